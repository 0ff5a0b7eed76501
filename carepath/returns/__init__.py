"""Statutory returns built from the canonical case record: the CIN census (``cin_census``), its
check against the DfE rules (``validate_cin``) and Ofsted's Annex A lists (``annex_a``).

Returns read only the record (plus the allocated worker and team), never a pack, so they come out
the same whichever pack ran the case. This package does not touch the database: the adapters feed
it cases (``carepath.adapters.db.record_stream.iter_cases``).
"""

from __future__ import annotations

from dataclasses import dataclass

from carepath.core.errors import CarepathError
from carepath.engine.record.case_record import CaseRecord


class ReturnError(CarepathError):
    """A return cannot be produced or checked as asked (bad year, LA code, file...)."""


@dataclass(frozen=True)
class CaseData:
    """One case as the returns see it: the record and who holds the case."""

    case_id: int
    la_child_id: str
    worker: str | None
    team: str | None
    record: CaseRecord
