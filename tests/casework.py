"""The application service as the older tests drive it: actors by name, plain ids and dicts.

A thin test-only wrapper over :class:`carepath.service.cases.CaseService` (the real service,
over a real database), so tests written before the service layer read the same."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from carepath.adapters.app import case_service
from carepath.adapters.packs import PackRegistry
from carepath.engine.pack import Pack
from carepath.engine.record.case_record import CaseRecord
from carepath.service.cases import CaseService
from carepath.service.types import Actor, TaskFilter, TaskView


class Casework:
    def __init__(self, engine: Engine, packs: PackRegistry | None = None) -> None:
        self.engine = engine
        self.service: CaseService = case_service(engine, packs)
        self.packs = self.service.packs

    def open_case(self, pack_name: str, child: Mapping[str, Any], referral: Mapping[str, Any],
                  actor: str, worker: str | None = None, team: str | None = None) -> int:
        return self.service.open_case(pack_name, child, referral, Actor.operator(actor),
                                      worker=worker, team=team).case_id

    def complete_task(self, task_id: int, values: Mapping[str, Any], actor: str,
                      expected_version: int | None = None) -> list[TaskView]:
        return self.service.complete_task(task_id, values, Actor.operator(actor),
                                          expected_version).opened

    def run_timers(self, until: datetime, actor: str = "timer") -> int:
        return self.service.run_timers(until, Actor.operator(actor))

    def tasks(self, case_id: int | None = None, overdue: bool = False, status: str = "ready",
              assignee: str | None = None) -> list[TaskView]:
        return self.service.tasks(TaskFilter(case_id, overdue, status, assignee))

    def task(self, task_id: int) -> TaskView:
        return self.service.task(task_id)

    def task_pack(self, task_id: int) -> Pack:
        return self.service.task_pack(task_id)

    def record(self, case_id: int) -> CaseRecord:
        return self.service.record(case_id)

    def case_ids(self) -> list[int]:
        return self.service.case_ids()

    def list_cases(self) -> list[dict[str, Any]]:
        return [c.as_json() for c in self.service.list_cases()]

    def history(self, case_id: int) -> list[dict[str, Any]]:
        return [h.as_json() for h in self.service.history(case_id)]

    def case_detail(self, case_id: int) -> dict[str, Any]:
        return self.service.case_view(case_id).as_json()
