"""The case store: every operation on cases, each one transaction over the real database.

This is the hot path of carepath. A task completion loads the case row, the record and the one
process instance the task belongs to, lets the runtime decide, and writes the outcome with an
optimistic version check, so of two racing completions exactly one wins.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from carepath.adapters.db import hotpath
from carepath.adapters.db import models as m
from carepath.adapters.db.audit import append_event
from carepath.adapters.db.database import bump_version
from carepath.adapters.db.records import load_record, save_record
from carepath.adapters.packs import PackRegistry
from carepath.core.errors import (
    CarepathError,
    ConflictError,
    NotFoundError,
    TaskStateError,
)
from carepath.engine.intake import check_child, check_referral
from carepath.engine.pack import Pack
from carepath.engine.record.case_record import CaseRecord, record_to_story
from carepath.engine.record.model import clone_record
from carepath.engine.runtime import CaseRuntime, LiveInstance, Outcome, TaskRef
from carepath.engine.time.clock import FixedClock, current_clock, today, use_clock
from carepath.forms.validation import FieldError, FormErrors, ValidationContext

log = logging.getLogger(__name__)

# h1, temporary (the repository replaces this class): completions, and every write of an outcome,
# go through the Core hot path (hotpath.py); CAREPATH_ORM_PATH=1, or CaseStore(hot_path=False),
# brings back the ORM path (tests compare the two, and the benchmark can measure both).
HOT_PATH = os.environ.get("CAREPATH_ORM_PATH", "") != "1"


@dataclass(frozen=True)
class TaskView:
    id: int
    case_id: int
    la_child_id: str
    title: str
    form: str | None
    role: str | None
    assignee: str | None
    due: date | None
    status: str
    process: str
    bpmn_id: str
    created_at: datetime

    @property
    def overdue(self) -> bool:
        return self.status == "ready" and self.due is not None and self.due < today()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "la_child_id": self.la_child_id,
            "title": self.title,
            "form": self.form,
            "role": self.role,
            "assignee": self.assignee,
            "due": self.due.isoformat() if self.due else None,
            "overdue": self.overdue,
            "status": self.status,
            "process": self.process,
        }


def _now() -> datetime:
    return current_clock().now().astimezone(UTC)


def _iso(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_iso(v) for v in value]
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    return value


@dataclass
class LiveTask:
    runtime: CaseRuntime
    record: CaseRecord
    instance: LiveInstance
    ref: TaskRef
    worker: str | None


class CaseStore:
    RECORD_CACHE_SIZE = 2048

    def __init__(self, engine: Engine, packs: PackRegistry, hot_path: bool | None = None
                 ) -> None:
        self.engine = engine
        self.packs = packs
        self.hot_path = HOT_PATH if hot_path is None else hot_path
        # case id -> (case version, record). Every change to a record bumps the case's version
        # in the same transaction, so a record cached at the version the database still shows
        # is exactly what load_record would return; long cases are not re-read on every task.
        self._records: OrderedDict[int, tuple[int, CaseRecord]] = OrderedDict()

    def _load_record(self, session: Session, case: m.CaseRow) -> CaseRecord:
        hit = self._records.get(case.id)
        if hit is not None and hit[0] == case.version:
            self._records.move_to_end(case.id)
            return hit[1]
        return load_record(session, case.id)

    def _remember(self, case_id: int, version: int, record: CaseRecord) -> None:
        """Cache a record just committed at ``version`` (never mutated afterwards)."""
        self._records[case_id] = (version, record)
        self._records.move_to_end(case_id)
        while len(self._records) > self.RECORD_CACHE_SIZE:
            self._records.popitem(last=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            # SQLite reports a lost race as "database is locked"/busy snapshot.
            if "locked" in str(exc.orig) or "busy" in str(exc.orig).lower():
                raise ConflictError("This case changed since you opened it. Nothing was saved: "
                                    "open it again and redo your change.") from None
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # -- writing -------------------------------------------------------------------------

    def open_case(self, pack_name: str, child: Mapping[str, Any], referral: Mapping[str, Any],
                  actor: str, worker: str | None = None, team: str | None = None) -> int:
        """Record a referral: a new case, or a new episode for a child already known."""
        pack = self.packs.get(pack_name)
        ctx = ValidationContext(today=today())
        errors: list[FieldError] = []
        try:
            child_value = check_child(child, ctx)
        except FormErrors as exc:
            errors.extend(FieldError(f"child.{e.field}", e.message) for e in exc.errors)
        try:
            referral_value = check_referral(referral, ctx)
        except FormErrors as exc:
            errors.extend(FieldError(f"referral.{e.field}", e.message) for e in exc.errors)
        if errors:
            raise FormErrors(errors)
        runtime = CaseRuntime(pack)
        with self._session() as session:
            case = session.scalars(
                select(m.CaseRow).where(m.CaseRow.la_child_id == child_value.la_child_id)
            ).one_or_none()
            if case is None:
                case = m.CaseRow(la_child_id=child_value.la_child_id, pack_name=pack.name,
                              pack_version=pack.version, worker=worker, team=team, version=0,
                              event_seq=0, head_hash="", created_at=_now())
                session.add(case)
                session.flush()
                before: CaseRecord | None = None
            else:
                before = self._load_record(session, case)
                case.pack_name, case.pack_version = pack.name, pack.version
                if worker:
                    case.worker = worker
                if team:
                    case.team = team
            seen = case.version
            outcome = runtime.open_episode(before, child_value, referral_value, case.worker)
            self._persist(session, case, seen, before, outcome, actor)
            case_id = case.id
        self._remember(case_id, seen + 1, outcome.record)
        return case_id

    def complete_task(self, task_id: int, values: Mapping[str, Any], actor: str,
                      expected_version: int | None = None) -> list[TaskView]:
        """Complete a task; returns the tasks it opened."""
        if self.hot_path:
            return self._complete_hot(task_id, values, actor, expected_version)
        with self._session() as session:
            outcome, case, record, seen = self._complete(session, task_id, values,
                                                         expected_version)
            opened = self._persist(session, case, seen, record, outcome, actor,
                                   completed_task=task_id)
            case_id = case.id
        self._remember(case_id, seen + 1, outcome.record)
        return opened

    def _complete_hot(self, task_id: int, values: Mapping[str, Any], actor: str,
                      expected_version: int | None) -> list[TaskView]:
        """complete_task on hotpath.py: one short read, the outcome worked out with no
        transaction open, one short write transaction."""
        with self.engine.connect() as conn:
            bundle = hotpath.load_task_bundle(conn, task_id)
            if bundle is None:
                raise NotFoundError(f"There is no task {task_id}")
            if bundle.status != "ready":
                when = bundle.completed_at.date().isoformat() if bundle.completed_at else "earlier"
                raise TaskStateError(f"Task {task_id} is already {bundle.status} ({when})")
            seen = bundle.case_version if expected_version is None else expected_version
            if bundle.case_version != seen:
                raise ConflictError("This case changed since you opened it. Nothing was saved: "
                                    "open it again and redo your change.")
            hit = self._records.get(bundle.case_id)
            if hit is not None and hit[0] == seen:
                record = hit[1]
            else:
                record = load_record(conn, bundle.case_id)
            conn.rollback()  # no transaction is open while the runtime works
            runtime = CaseRuntime(self.packs.get_version(bundle.pack_name, bundle.pack_version))
            live = runtime.restore(bundle.process_id, bundle.state, bundle.episode_seq,
                                   bundle.instance_id)
            ref = TaskRef(bundle.spiff_task_id, bundle.bpmn_id, bundle.form, bundle.task_id,
                          bundle.title)
            outcome = runtime.complete(record, live, ref, values, bundle.case_worker)
            with hotpath.write_transaction(conn):
                opened = hotpath.persist_outcome(conn, bundle.case_id, seen, record, outcome,
                                                 actor, _now(), completed_task=task_id,
                                                 head=bundle.head)
        self._remember(bundle.case_id, seen + 1, outcome.record)
        return [self._opened_view(t, outcome.record.child.la_child_id) for t in opened]

    @staticmethod
    def _opened_view(t: hotpath.OpenedTask, la_child_id: str) -> TaskView:
        return TaskView(t.id, t.case_id, la_child_id, t.title, t.form, t.role, t.assignee, t.due,
                        t.status, t.process_id, t.bpmn_id, t.created_at)

    def _load_task(self, session: Session, task_id: int) -> tuple[m.TaskRow, m.CaseRow,
                                                                  m.ProcessInstanceRow]:
        task = session.get(m.TaskRow, task_id)
        if task is None:
            raise NotFoundError(f"There is no task {task_id}")
        if task.status != "ready":
            when = task.completed_at.date().isoformat() if task.completed_at else "earlier"
            raise TaskStateError(f"Task {task_id} is already {task.status} ({when})")
        case = session.get(m.CaseRow, task.case_id)
        instance = session.get(m.ProcessInstanceRow, task.instance_id)
        if case is None or instance is None or instance.state is None:
            raise NotFoundError(f"Task {task_id} has no case or process: the database is damaged")
        return task, case, instance

    def _complete(self, session: Session, task_id: int, values: Mapping[str, Any],
                  expected_version: int | None) -> tuple[Outcome, m.CaseRow, CaseRecord, int]:
        task, case, row = self._load_task(session, task_id)
        seen = case.version if expected_version is None else expected_version
        if case.version != seen:
            raise ConflictError("This case changed since you opened it. Nothing was saved: "
                                "open it again and redo your change.")
        runtime, record, live, ref = self._live(session, task, case, row)
        outcome = runtime.complete(record, live, ref, values, case.worker)
        return outcome, case, record, seen

    def commit_outcome(self, case_id: int, seen_version: int, before: CaseRecord,
                       outcome: Outcome, actor: str, task_id: int | None = None) -> list[TaskView]:
        """Write an outcome the caller worked out in memory (the story runner does), exactly as
        ``complete_task`` writes its own: one transaction, version check first."""
        with self._session() as session:
            case = session.get(m.CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"There is no case {case_id}")
            return self._persist(session, case, seen_version, before, outcome, actor,
                                 completed_task=task_id)

    def _live(self, session: Session, task: m.TaskRow, case: m.CaseRow,
              row: m.ProcessInstanceRow) -> tuple[CaseRuntime, CaseRecord, LiveInstance, TaskRef]:
        pack = self.packs.get_version(row.pack_name, row.pack_version)
        runtime = CaseRuntime(pack)
        record = self._load_record(session, case)
        live = runtime.restore(row.process_id, row.state or "", row.episode_seq, row.id)
        return runtime, record, live, TaskRef(task.spiff_task_id, task.bpmn_id, task.form,
                                               task.id, task.title)

    def load_live(self, task_id: int) -> LiveTask:
        """A ready task with everything needed to simulate completing it in memory."""
        session = Session(self.engine)
        try:
            task, case, row = self._load_task(session, task_id)
            runtime, record, live, ref = self._live(session, task, case, row)
            return LiveTask(runtime, record, live, ref, case.worker)
        finally:
            session.rollback()
            session.close()

    def preview(self, task_id: int, values: Mapping[str, Any]) -> Outcome:
        """What completing the task would do, without writing anything."""
        session = Session(self.engine)
        try:
            return self._complete(session, task_id, values, None)[0]
        finally:
            session.rollback()
            session.close()

    def _persist(self, session: Session, case: m.CaseRow, seen: int, before: CaseRecord | None,
                 outcome: Outcome, actor: str, completed_task: int | None = None) -> list[TaskView]:
        if self.hot_path:  # the same writes through hotpath.py, in the session's transaction
            session.flush()
            head = (case.event_seq, case.head_hash) if case.version == seen else None
            written = hotpath.persist_outcome(session.connection(), case.id, seen, before,
                                              outcome, actor, _now(), completed_task, head=head)
            return [self._opened_view(t, outcome.record.child.la_child_id) for t in written]
        # The version check comes first: it locks the case row until commit, so a racing
        # writer waits here and then gets ConflictError instead of a duplicate-key error.
        bump_version(session, case.id, seen)
        now = _now()
        save_record(session, case.id, before, outcome.record)
        rows: dict[int, m.ProcessInstanceRow] = {}
        for live in outcome.instances:
            rows[id(live)] = self._save_instance(session, case, live, now)
        session.flush()
        for live, spiff_id, status in outcome.closed:
            session.execute(
                update(m.TaskRow)
                .where(m.TaskRow.instance_id == rows[id(live)].id,
                       m.TaskRow.spiff_task_id == spiff_id, m.TaskRow.status == "ready")
                .values(status=status, completed_at=now,
                        completed_by=actor if status == "completed" else None)
            )
        opened: list[m.TaskRow] = []
        for new in outcome.opened:
            task_row = m.TaskRow(
                case_id=case.id, instance_id=rows[id(new.instance)].id,
                spiff_task_id=new.task.id, bpmn_id=new.task.bpmn_id, title=new.task.title,
                form=new.task.form, role=new.task.role, assignee=new.assignee, due=new.due,
                status="ready", created_at=now)
            session.add(task_row)
            opened.append(task_row)
        events = list(outcome.events)
        if outcome.episode_closed:
            events.extend(self._cancel_episode_work(session, case, outcome, rows, now))
        session.flush()
        for kind, payload in events:
            if kind == "task.completed" and completed_task is not None:
                payload = {"task_id": completed_task, **payload}
            append_event(session, case, actor, kind, payload, now)
        return [self._view(t, case, rows) for t in opened]

    def _view(self, task: m.TaskRow, case: m.CaseRow, rows: Mapping[int, m.ProcessInstanceRow]
              ) -> TaskView:
        process = next((r.process_id for r in rows.values() if r.id == task.instance_id), "")
        return TaskView(task.id, case.id, case.la_child_id, task.title, task.form, task.role,
                        task.assignee, task.due, task.status, process, task.bpmn_id,
                        task.created_at)

    def _save_instance(self, session: Session, case: m.CaseRow, live: LiveInstance,
                       now: datetime) -> m.ProcessInstanceRow:
        state = live.workflow.dump()
        next_timer = live.workflow.next_timer_at() if live.status == "running" else None
        if live.db_id is None:
            row = m.ProcessInstanceRow(
                case_id=case.id, episode_seq=live.episode_seq, process_id=live.process_id,
                pack_name=live.pack_name, pack_version=live.pack_version, status=live.status,
                state=state, next_timer_at=next_timer, created_at=now,
                completed_at=now if live.status != "running" else None)
            session.add(row)
            session.flush()
            live.db_id = row.id
            return row
        row_or_none = session.get(m.ProcessInstanceRow, live.db_id)
        if row_or_none is None:
            raise NotFoundError(f"process instance {live.db_id} is missing")
        row = row_or_none
        row.state = state
        row.status = live.status
        row.next_timer_at = next_timer
        if live.status != "running" and row.completed_at is None:
            row.completed_at = now
        return row

    def _cancel_episode_work(self, session: Session, case: m.CaseRow, outcome: Outcome,
                             rows: Mapping[int, m.ProcessInstanceRow], now: datetime
                             ) -> list[tuple[str, dict[str, Any]]]:
        """The episode closed: work still open on it (other stages, timers) stops here."""
        episode_seq = len(outcome.record.episodes) - 1
        touched = {r.id for r in rows.values()}
        others = session.scalars(
            select(m.ProcessInstanceRow).where(
                m.ProcessInstanceRow.case_id == case.id,
                m.ProcessInstanceRow.episode_seq == episode_seq,
                m.ProcessInstanceRow.status == "running")
        ).all()
        events: list[tuple[str, dict[str, Any]]] = []
        session.flush()
        open_ids = [r.id for r in others] + list(touched)
        cancelled = session.execute(
            update(m.TaskRow)
            .where(m.TaskRow.instance_id.in_(open_ids), m.TaskRow.status == "ready")
            .values(status="cancelled", completed_at=now)
        ).rowcount  # type: ignore[attr-defined]
        for row in [*others, *(r for r in rows.values() if r.status == "running")]:
            if row.status != "running":
                continue
            row.status = "cancelled"
            row.completed_at = now
            row.next_timer_at = None
            events.append(("process.cancelled", {"process": row.process_id,
                                                 "reason": "episode closed"}))
        if cancelled:
            events.append(("tasks.cancelled", {"count": cancelled,
                                               "reason": "episode closed"}))
        return events

    def run_timers(self, until: datetime, actor: str = "timer") -> int:
        """Fire every timer due by ``until``, with the clock at ``until``; one transaction per
        instance. Returns how many instances moved."""
        with use_clock(FixedClock(until.astimezone(UTC))):
            return self._run_timers(until, actor)

    def _run_timers(self, until: datetime, actor: str) -> int:
        moved = 0
        while True:
            with self._session() as session:
                query = (select(m.ProcessInstanceRow)
                         .where(m.ProcessInstanceRow.status == "running",
                                m.ProcessInstanceRow.next_timer_at.is_not(None),
                                m.ProcessInstanceRow.next_timer_at <= until)
                         .order_by(m.ProcessInstanceRow.next_timer_at, m.ProcessInstanceRow.id)
                         .limit(1))
                if self.engine.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                row = session.scalars(query).one_or_none()
                if row is None:
                    return moved
                case = session.get(m.CaseRow, row.case_id)
                if case is None:
                    raise NotFoundError(f"case {row.case_id} is missing")
                seen = case.version
                pack = self.packs.get_version(row.pack_name, row.pack_version)
                runtime = CaseRuntime(pack)
                record = load_record(session, case.id)
                live = runtime.restore(row.process_id, row.state or "", row.episode_seq, row.id)
                outcome = runtime.fire_timers(record, live, case.worker)
                if not outcome.instances:
                    # nothing due after all (e.g. a stale next_timer_at): recompute and move on
                    row.next_timer_at = live.workflow.next_timer_at()
                    if row.next_timer_at is not None and row.next_timer_at <= until:
                        row.next_timer_at = None
                    continue
                self._persist(session, case, seen, record, outcome, actor)
                moved += 1

    # -- reading -------------------------------------------------------------------------

    def case_ids(self) -> list[int]:
        with self._session() as session:
            return list(session.scalars(select(m.CaseRow.id).order_by(m.CaseRow.id)))

    def list_cases(self) -> list[dict[str, Any]]:
        with self._session() as session:
            open_tasks = (select(m.TaskRow.case_id, func.count().label("n"))
                          .where(m.TaskRow.status == "ready").group_by(m.TaskRow.case_id).subquery())
            rows = session.execute(
                select(m.CaseRow, open_tasks.c.n)
                .outerjoin(open_tasks, open_tasks.c.case_id == m.CaseRow.id)
                .order_by(m.CaseRow.id)
            ).all()
            return [{"case_id": c.id, "la_child_id": c.la_child_id,
                     "pack": f"{c.pack_name}@{c.pack_version}", "worker": c.worker,
                     "team": c.team, "open_tasks": n or 0} for c, n in rows]

    def tasks(self, case_id: int | None = None, overdue: bool = False,
              status: str = "ready", assignee: str | None = None) -> list[TaskView]:
        with self._session() as session:
            query = (select(m.TaskRow, m.CaseRow.la_child_id, m.ProcessInstanceRow.process_id)
                     .join(m.CaseRow, m.CaseRow.id == m.TaskRow.case_id)
                     .join(m.ProcessInstanceRow, m.ProcessInstanceRow.id == m.TaskRow.instance_id)
                     .where(m.TaskRow.status == status)
                     .order_by(m.TaskRow.due.is_(None), m.TaskRow.due, m.TaskRow.id))
            if case_id is not None:
                query = query.where(m.TaskRow.case_id == case_id)
            if assignee is not None:
                query = query.where(m.TaskRow.assignee == assignee)
            if overdue:
                query = query.where(m.TaskRow.due < today())
            return [TaskView(t.id, t.case_id, la, t.title, t.form, t.role, t.assignee, t.due,
                             t.status, process, t.bpmn_id, t.created_at)
                    for t, la, process in session.execute(query).all()]

    def task(self, task_id: int) -> TaskView:
        with self._session() as session:
            row = session.execute(
                select(m.TaskRow, m.CaseRow.la_child_id, m.ProcessInstanceRow.process_id)
                .join(m.CaseRow, m.CaseRow.id == m.TaskRow.case_id)
                .join(m.ProcessInstanceRow, m.ProcessInstanceRow.id == m.TaskRow.instance_id)
                .where(m.TaskRow.id == task_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"There is no task {task_id}")
            t, la, process = row
            return TaskView(t.id, t.case_id, la, t.title, t.form, t.role, t.assignee, t.due,
                            t.status, process, t.bpmn_id, t.created_at)

    def task_pack(self, task_id: int) -> Pack:
        with self._session() as session:
            task = session.get(m.TaskRow, task_id)
            if task is None:
                raise NotFoundError(f"There is no task {task_id}")
            row = session.get(m.ProcessInstanceRow, task.instance_id)
            if row is None:
                raise NotFoundError(f"Task {task_id} has no process")
            return self.packs.get_version(row.pack_name, row.pack_version)

    def record(self, case_id: int) -> CaseRecord:
        with self._session() as session:
            case = session.get(m.CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"There is no case {case_id}")
            return clone_record(self._load_record(session, case))

    def case_id_for(self, la_child_id: str) -> int | None:
        with self._session() as session:
            return session.scalars(
                select(m.CaseRow.id).where(m.CaseRow.la_child_id == la_child_id)).one_or_none()

    def history(self, case_id: int) -> list[dict[str, Any]]:
        with self._session() as session:
            events = session.scalars(
                select(m.EventRow).where(m.EventRow.case_id == case_id).order_by(m.EventRow.seq)).all()
            return [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "kind": e.kind,
                     **json.loads(e.payload)} for e in events]

    def case_detail(self, case_id: int) -> dict[str, Any]:
        with self._session() as session:
            case = session.get(m.CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"There is no case {case_id}")
            pack_key = f"{case.pack_name}@{case.pack_version}"
            worker, team = case.worker, case.team
        record = self.record(case_id)
        try:
            calendar = self.packs.get(case.pack_name).timescales.calendar
        except CarepathError:
            calendar = None
        return {
            "case_id": case_id,
            "pack": pack_key,
            "worker": worker,
            "team": team,
            "record": _iso(record_to_story(record, calendar, computed=True)),
            "open_tasks": [t.as_json() for t in self.tasks(case_id=case_id)],
            "history": self.history(case_id),
        }
