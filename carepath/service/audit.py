"""Checking the tamper-evident case history."""

from __future__ import annotations

from carepath.service.ports import AuditLog
from carepath.service.types import AuditReport


class AuditService:
    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def verify(self, case_id: int | None = None) -> AuditReport:
        """Every problem in the event chain of one case, or of every case."""
        return AuditReport(case_id, self.log.verify(case_id))
