"""The canonical case record: one child, one or more episodes of need.

The engine owns this shape; packs only fill it through form mappings (``record:`` items) and the
statutory returns read only it. Its dictionary form is exactly the story format
(see ``docs/stories.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class Child:
    la_child_id: str
    upn: str | None = None
    upn_unknown: str | None = None
    birth_date: date | None = None
    expected_birth_date: date | None = None
    sex: str | None = None
    ethnicity: str | None = None
    disabilities: list[str] = field(default_factory=list)


@dataclass
class Assessment:
    start: date
    authorised: date | None = None
    factors: list[str] = field(default_factory=list)


@dataclass
class Section47:
    start: date  # the date of the strategy discussion that began the enquiry
    icpc_date: date | None = None
    icpc_not_required: bool = False


@dataclass
class CPPlan:
    start: date
    initial_category: str | None = None
    latest_category: str | None = None
    reviews: list[date] = field(default_factory=list)
    end: date | None = None


@dataclass
class CINPlan:
    start: date
    end: date | None = None


@dataclass
class Episode:
    referral_date: date
    referral_source: str | None = None
    referral_nfa: bool = False
    primary_need: str | None = None
    assessments: list[Assessment] = field(default_factory=list)
    s47s: list[Section47] = field(default_factory=list)
    cp_plans: list[CPPlan] = field(default_factory=list)
    cin_plans: list[CINPlan] = field(default_factory=list)
    closure_date: date | None = None
    closure_reason: str | None = None


@dataclass
class CaseRecord:
    child: Child
    episodes: list[Episode] = field(default_factory=list)
