"""Statutory code lists (CIN census 2025-26) and the code-list type packs use for local lists."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    label: str


@dataclass(frozen=True)
class Codelist:
    id: str
    title: str
    codes: tuple[Code, ...]
    statutory: bool = False

    def __contains__(self, value: object) -> bool:
        return any(c.code == value for c in self.codes)

    def label(self, value: str) -> str:
        for c in self.codes:
            if c.code == value:
                return c.label
        return value


# Filled in below: sex, upn_unknown, ethnicity, disability, referral_source, primary_need,
# closure_reason, abuse_category, assessment_factors.
STATUTORY_CODELISTS: dict[str, Codelist] = {}
