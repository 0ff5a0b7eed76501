"""Pack pins and migration runs in the database (``carepath pack use``, ``carepath migrate``).

Each case's move is one transaction whose first statement is the case's version check; the
case's state before the move (its pack, the rows of its running instances and ready tasks, and
the rows the move adds) is kept with the run, so :meth:`SqlMigrationStore.undo` can put it back
exactly, unless the case has changed since (its version moved on).
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from carepath.adapters.db import models as m
from carepath.adapters.db.audit import append_event
from carepath.adapters.db.cases import _lock, transaction
from carepath.adapters.db.records import load_record
from carepath.core.errors import NotFoundError
from carepath.engine.time.clock import current_clock
from carepath.service.migration_types import (
    CasePlan,
    CaseWork,
    OpenTask,
    RunningInstance,
    UndoResult,
)
from carepath.service.types import CaseHead

_INSTANCE_COLUMNS = ("state", "pack_name", "pack_version", "status", "next_timer_at",
                     "completed_at")
_TASK_COLUMNS = ("bpmn_id", "title", "form", "role", "assignee", "due", "status",
                 "completed_at", "completed_by")


def _now() -> datetime:
    return current_clock().now().astimezone(UTC)


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"datetime": value.astimezone(UTC).isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "datetime" in value:
        return datetime.fromisoformat(value["datetime"])
    if isinstance(value, dict) and "date" in value:
        return date.fromisoformat(value["date"])
    return value


class SqlMigrationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self.engine)

    # -- versions and pins ---------------------------------------------------------------

    def running_counts(self) -> dict[tuple[str, str], int]:
        i = m.ProcessInstanceRow
        with self._session() as session:
            rows = session.execute(
                select(i.pack_name, i.pack_version, func.count())
                .where(i.status == m.INSTANCE_RUNNING)
                .group_by(i.pack_name, i.pack_version)).all()
            return {(n, v): int(c) for n, v, c in rows}

    def pins(self) -> dict[str, str]:
        p = m.PackPinRow
        with self._session() as session:
            latest = (select(p.pack_name, func.max(p.id).label("id"))
                      .group_by(p.pack_name).subquery())
            rows = session.execute(select(p.pack_name, p.pack_version)
                                   .join(latest, latest.c.id == p.id)).all()
            return {n: v for n, v in rows if v is not None}

    def pin(self, name: str, version: str | None, actor: str) -> None:
        with self._session() as session:
            session.add(m.PackPinRow(pack_name=name, pack_version=version, actor=actor,
                                     at=_now()))

    def pin_history(self, name: str) -> list[tuple[str | None, str, datetime]]:
        p = m.PackPinRow
        with self._session() as session:
            rows = session.execute(select(p.pack_version, p.actor, p.at)
                                   .where(p.pack_name == name).order_by(p.id)).all()
            return [(v, a, t) for v, a, t in rows]

    # -- reading a case's work -------------------------------------------------------------

    def running_cases(self, pack_name: str | None, pack_version: str | None) -> list[int]:
        with self._session() as session:
            return sorted(int(c) for c in session.scalars(
                self._running_query(pack_name, pack_version)))

    def running_cases_after(self, pack_name: str | None, pack_version: str | None,
                            after: int, limit: int) -> list[int]:
        i = m.ProcessInstanceRow
        query = (self._running_query(pack_name, pack_version).where(i.case_id > after)
                 .order_by(i.case_id).limit(limit))
        with self._session() as session:
            return [int(c) for c in session.scalars(query)]

    @staticmethod
    def _running_query(pack_name: str | None, pack_version: str | None) -> Any:
        i = m.ProcessInstanceRow
        query = select(i.case_id).where(i.status == m.INSTANCE_RUNNING).distinct()
        if pack_name is not None:
            query = query.where(i.pack_name == pack_name)
        if pack_version is not None:
            query = query.where(i.pack_version == pack_version)
        return query

    def case_work(self, case_id: int) -> CaseWork:
        i, t = m.ProcessInstanceRow, m.TaskRow
        with self._session() as session:
            case = session.get(m.CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"There is no case {case_id}")
            head = CaseHead(case.id, case.la_child_id, case.pack_name, case.pack_version,
                            case.worker, case.team, case.version)
            record = load_record(session, case_id)
            instances = [RunningInstance(r.id, r.process_id, r.episode_seq, r.pack_name,
                                         r.pack_version, r.state or "")
                         for r in session.scalars(
                             select(i).where(i.case_id == case_id,
                                             i.status == m.INSTANCE_RUNNING).order_by(i.id))]
            tasks = [OpenTask(r.id, r.instance_id, r.spiff_task_id, r.bpmn_id, r.title, r.due,
                              r.assignee)
                     for r in session.scalars(
                         select(t).where(t.case_id == case_id, t.status == m.TASK_READY)
                         .order_by(t.due.is_(None), t.due, t.id))]
            return CaseWork(head, record, instances, tasks)

    # -- moving ------------------------------------------------------------------------------

    def start_run(self, run_id: str, target: str, actor: str) -> None:
        with self._session() as session:
            session.add(m.MigrationRunRow(id=run_id, target=target, actor=actor,
                                          created_at=_now()))

    def apply(self, run_id: str, plan: CasePlan, actor: str) -> None:
        now = _now()
        with self._session() as session:
            case = session.get(m.CaseRow, plan.case_id)
            if case is None:
                raise NotFoundError(f"There is no case {plan.case_id}")
            _lock(session, case, plan.seen_version)  # the version check, first
            touched_instances = {u.instance_id for u in plan.updates} | set(
                plan.close_instances)
            touched_tasks = {u.task_id for u in plan.task_updates} | set(plan.cancel_tasks)
            snapshot: dict[str, Any] = {
                "case": {"pack_name": case.pack_name, "pack_version": case.pack_version},
                "instances": {}, "tasks": {}, "created_instances": [], "created_tasks": []}
            # the rows touched, read in one statement each and held here (the session's
            # identity map holds them only weakly), so that session.get finds them
            held = [*session.scalars(select(m.ProcessInstanceRow).where(
                m.ProcessInstanceRow.id.in_(sorted(touched_instances)))),
                *session.scalars(select(m.TaskRow).where(
                    m.TaskRow.id.in_(sorted(touched_tasks))))]
            for instance_id in sorted(touched_instances):
                row = session.get(m.ProcessInstanceRow, instance_id)
                if row is None or row.case_id != case.id:
                    raise NotFoundError(f"process instance {instance_id} is missing")
                snapshot["instances"][str(instance_id)] = {
                    c: _to_json(getattr(row, c)) for c in _INSTANCE_COLUMNS}
            for task_id in sorted(touched_tasks):
                task = session.get(m.TaskRow, task_id)
                if task is None or task.case_id != case.id:
                    raise NotFoundError(f"task {task_id} is missing")
                snapshot["tasks"][str(task_id)] = {
                    c: _to_json(getattr(task, c)) for c in _TASK_COLUMNS}

            for update in plan.updates:
                row = session.get(m.ProcessInstanceRow, update.instance_id)
                assert row is not None
                row.state = update.state
                row.pack_name, row.pack_version = update.pack_name, update.pack_version
                row.next_timer_at = update.next_timer_at
            for tu in plan.task_updates:
                task = session.get(m.TaskRow, tu.task_id)
                assert task is not None
                task.bpmn_id, task.title, task.form, task.role, task.due = (
                    tu.bpmn_id, tu.title, tu.form, tu.role, tu.due)
            for task_id in plan.cancel_tasks:
                task = session.get(m.TaskRow, task_id)
                assert task is not None
                task.status, task.completed_at = m.TASK_CANCELLED, now
            for instance_id in plan.close_instances:
                row = session.get(m.ProcessInstanceRow, instance_id)
                assert row is not None
                row.status, row.completed_at, row.next_timer_at = (
                    m.INSTANCE_CANCELLED, now, None)
            for new in plan.new_instances:
                if new.existing is not None:
                    instance_id = new.existing
                else:
                    inst = m.ProcessInstanceRow(
                        case_id=case.id, episode_seq=new.episode_seq, process_id=new.process_id,
                        pack_name=new.pack_name, pack_version=new.pack_version,
                        status=m.INSTANCE_RUNNING, state=new.state,
                        next_timer_at=new.next_timer_at, created_at=now)
                    session.add(inst)
                    session.flush()
                    instance_id = inst.id
                    snapshot["created_instances"].append(instance_id)
                added = [m.TaskRow(case_id=case.id, instance_id=instance_id,
                                   spiff_task_id=nt.spiff_task_id, bpmn_id=nt.bpmn_id,
                                   title=nt.title, form=nt.form, role=nt.role,
                                   assignee=nt.assignee, due=nt.due, status=m.TASK_READY,
                                   created_at=now) for nt in new.tasks]
                session.add_all(added)
                session.flush()
                snapshot["created_tasks"].extend(task.id for task in added)
            case.pack_name, case.pack_version = plan.pack
            append_event(session, case, actor, "case.migrated", plan.event, now)
            session.flush()
            session.add(m.MigrationCaseRow(run_id=run_id, case_id=case.id,
                                           strategy=plan.strategy, version_after=case.version,
                                           snapshot=json.dumps(snapshot, sort_keys=True)))
            del held

    def undo(self, run_id: str, actor: str) -> list[UndoResult]:
        with self._session() as session:
            run = session.get(m.MigrationRunRow, run_id)
            if run is None:
                raise NotFoundError(f"There is no migration run '{run_id}'")
            moves = list(session.scalars(
                select(m.MigrationCaseRow).where(m.MigrationCaseRow.run_id == run_id)
                .order_by(m.MigrationCaseRow.id)))
        results = []
        for move in moves:
            if move.undone:
                results.append(UndoResult(move.case_id, False, "already undone"))
                continue
            results.append(self._undo_case(run_id, move.id, actor))
        with self._session() as session:
            run = session.get(m.MigrationRunRow, run_id)
            if run is not None and all(r.undone or r.reason == "already undone"
                                       for r in results):
                run.undone_at, run.undone_by = _now(), actor
        return results

    def _undo_case(self, run_id: str, move_id: int, actor: str) -> UndoResult:
        now = _now()
        with self._session() as session:
            move = session.get(m.MigrationCaseRow, move_id)
            assert move is not None
            case = session.get(m.CaseRow, move.case_id)
            if case is None:
                return UndoResult(move.case_id, False, "the case is gone")
            if case.version != move.version_after:
                return UndoResult(case.id, False,
                                  f"case {case.id} has changed since it was moved (version "
                                  f"{move.version_after} then, {case.version} now): undo it "
                                  "by hand or move it again")
            _lock(session, case, move.version_after)
            snapshot = json.loads(move.snapshot)
            created_tasks = [int(t) for t in snapshot["created_tasks"]]
            if created_tasks:
                session.execute(delete(m.TaskDraftRow)
                                .where(m.TaskDraftRow.task_id.in_(created_tasks)))
                session.execute(delete(m.TaskRow).where(m.TaskRow.id.in_(created_tasks)))
            created_instances = [int(i) for i in snapshot["created_instances"]]
            if created_instances:
                session.execute(delete(m.ProcessInstanceRow)
                                .where(m.ProcessInstanceRow.id.in_(created_instances)))
            for instance_id, values in snapshot["instances"].items():
                row = session.get(m.ProcessInstanceRow, int(instance_id))
                assert row is not None
                for column, value in values.items():
                    setattr(row, column, _from_json(value))
            for task_id, values in snapshot["tasks"].items():
                task = session.get(m.TaskRow, int(task_id))
                assert task is not None
                for column, value in values.items():
                    setattr(task, column, _from_json(value))
            before = f"{case.pack_name}@{case.pack_version}"
            case.pack_name = snapshot["case"]["pack_name"]
            case.pack_version = snapshot["case"]["pack_version"]
            append_event(session, case, actor, "case.migration_undone",
                         {"run_id": run_id, "from": before,
                          "to": f"{case.pack_name}@{case.pack_version}"}, now)
            move.undone = True
            return UndoResult(case.id, True, None)
