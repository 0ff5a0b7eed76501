"""Statutory returns built from the canonical case record: the CIN census (``cin_census``), its
check against the DfE rules (``validate_cin``) and Ofsted's Annex A lists (``annex_a``).

Returns read only the record (plus the allocated worker and team), never a pack, so they come out
the same whichever pack ran the case. This package does not touch the database: the adapters feed
it cases (``carepath.adapters.db.record_stream.iter_cases``).
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from typing import Any

from carepath.core.errors import CarepathError
from carepath.engine.record.case_record import CaseRecord


class ReturnError(CarepathError):
    """A return cannot be produced or checked as asked (bad year, LA code, file...)."""


def load_rules(package: str, ruleset: str, install_hint: str) -> tuple[Any, Any]:
    """The DfE-rule validator ``package`` (its module of the same name) and the module of its
    ``ruleset``, imported with their warnings silenced. ReturnError with ``install_hint`` when
    the validator is not installed; ModuleNotFoundError when it has no such ruleset."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            importlib.import_module(package)
            validator = importlib.import_module(f"{package}.{package}")
        except ImportError:
            raise ReturnError(install_hint) from None
        return validator, importlib.import_module(f"{package}.rules.{ruleset}")


@dataclass(frozen=True)
class CaseData:
    """One case as the returns see it: the record and who holds the case."""

    case_id: int
    la_child_id: str
    worker: str | None
    team: str | None
    record: CaseRecord
