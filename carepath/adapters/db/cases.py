"""The case repository: cases, process instances, tasks and events in the database.

It stores and reads; it decides nothing (that is :mod:`carepath.service.cases`). A write is one
transaction whose first statement is the case's version check (``bump_version``), which also
locks the case row until commit: a racing writer waits, then gets ConflictError.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from carepath.adapters.db import case_file, hotpath
from carepath.adapters.db import models as m
from carepath.adapters.db.audit import append_event
from carepath.adapters.db.database import bump_version
from carepath.adapters.db.record_cache import RecordCache
from carepath.adapters.db.records import load_record
from carepath.core.errors import (
    ConflictError,
    NotFoundError,
    StorageError,
    TaskStateError,
)
from carepath.engine.record.case_record import CaseRecord
from carepath.engine.time.clock import current_clock, today
from carepath.service.ports import (
    CaseAccess,
    CaseFileRead,
    CaseInstance,
    CaseWrite,
    FireTimers,
    InboxScope,
    InstanceState,
    LiveTask,
    MayOpen,
    TimerWork,
)
from carepath.service.types import (
    CaseHead,
    CaseSummary,
    HistoryEntry,
    InboxQuery,
    JsonObject,
    TaskFilter,
    TaskView,
)

CHANGED = ("This case changed since you opened it. Nothing was saved: open it again and redo "
           "your change.")
# Ids are 64-bit in the database: a larger number cannot name anything.
MAX_ID = 2**63 - 1


def _now() -> datetime:
    return current_clock().now().astimezone(UTC)


def _check_id(value: int, what: str) -> None:
    if not 0 < value <= MAX_ID:
        raise NotFoundError(f"There is no {what} {value}")


def _task_view(t: m.TaskRow, la_child_id: str, process: str) -> TaskView:
    return TaskView(t.id, t.case_id, la_child_id, t.title, t.form, t.role, t.assignee, t.due,
                    t.status, process, t.bpmn_id, t.created_at)


def _head(case: m.CaseRow) -> CaseHead:
    return CaseHead(case.id, case.la_child_id, case.pack_name, case.pack_version, case.worker,
                    case.team, case.version)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One ORM transaction on ``engine``: committed at the end, rolled back on any error, the
    database's errors told as carepath's (every repository writes through this)."""
    with _told_as_ours(), Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def _told_as_ours() -> Iterator[None]:
    """The database's errors as carepath's: a lost race (SQLite's "database is locked", two
    first referrals of one child meeting on the unique LA child ID) is a ConflictError, the
    rest a StorageError with the database's reason. Raised after the transaction rolled back."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig)
        if "locked" in reason or "busy" in reason.lower():
            raise ConflictError(CHANGED) from None
        raise StorageError(f"Database error: {reason.strip().splitlines()[0]}") from None
    except IntegrityError as exc:
        if "la_child_id" in str(exc.orig):
            raise ConflictError(CHANGED) from None
        raise StorageError("The database refused the change: "
                           f"{str(exc.orig).strip().splitlines()[0]}") from None
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise StorageError(f"Database error: {lines[0] if lines else type(exc).__name__}"
                           ) from None


def _lock(session: Session, case: m.CaseRow, seen_version: int) -> None:
    """The version check (``bump_version``: the case row is locked until commit), then the
    case row read again: its audit chain head may have moved since it was read (a view moves
    the head, not the version)."""
    bump_version(session, case.id, seen_version)
    session.refresh(case)


class SqlCaseRepository:
    def __init__(self, engine: Engine, cache: RecordCache | None = None) -> None:
        self.engine = engine
        self.cache = cache if cache is not None else RecordCache()
        self._heads: dict[tuple[int, int], tuple[int, str]] = {}
        self._heads_lock = threading.Lock()

    @contextmanager
    def _core(self) -> Iterator[Connection]:
        """A Core connection, with the database's errors told as carepath's."""
        with _told_as_ours(), self.engine.connect() as conn:
            yield conn

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self.engine)

    def _record(self, session: Session, case_id: int, version: int) -> CaseRecord:
        hit = self.cache.get(case_id, version)
        return hit if hit is not None else load_record(session, case_id)

    # -- cases -----------------------------------------------------------------------------

    def case_by_child(self, la_child_id: str) -> CaseHead | None:
        with self._session() as session:
            case = session.scalars(
                select(m.CaseRow).where(m.CaseRow.la_child_id == la_child_id)).one_or_none()
            return _head(case) if case is not None else None

    def upn_holders(self, upn: str) -> list[str]:
        with self._session() as session:
            return list(session.scalars(
                select(m.CaseRow.la_child_id).join(m.ChildRow, m.ChildRow.case_id == m.CaseRow.id)
                .where(m.ChildRow.upn == upn)))

    def case_head(self, case_id: int) -> CaseHead:
        _check_id(case_id, "case")
        with self._session() as session:
            case = session.get(m.CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"There is no case {case_id}")
            return _head(case)

    def record(self, head: CaseHead) -> CaseRecord:
        hit = self.cache.get(head.case_id, head.version)
        if hit is not None:
            return hit
        with self._session() as session:
            case = session.get(m.CaseRow, head.case_id)
            if case is None:
                raise NotFoundError(f"There is no case {head.case_id}")
            if case.version != head.version:
                raise ConflictError(CHANGED)
            record = load_record(session, head.case_id)
        self.cache.put(head.case_id, head.version, record)
        return record

    def case_ids(self) -> list[int]:
        with self._session() as session:
            return list(session.scalars(select(m.CaseRow.id).order_by(m.CaseRow.id)))

    def cases(self) -> list[CaseSummary]:
        with self._session() as session:
            open_tasks = (select(m.TaskRow.case_id, func.count().label("n"))
                          .where(m.TaskRow.status == "ready").group_by(m.TaskRow.case_id)
                          .subquery())
            rows = session.execute(
                select(m.CaseRow, open_tasks.c.n)
                .outerjoin(open_tasks, open_tasks.c.case_id == m.CaseRow.id)
                .order_by(m.CaseRow.id)
            ).all()
            return [CaseSummary(c.id, c.la_child_id, f"{c.pack_name}@{c.pack_version}",
                                c.worker, c.team, n or 0) for c, n in rows]

    def history(self, case_id: int) -> list[HistoryEntry]:
        with self._session() as session:
            events = session.scalars(
                select(m.EventRow).where(m.EventRow.case_id == case_id)
                .order_by(m.EventRow.seq)).all()
            return [HistoryEntry(e.seq, e.at, e.actor, e.kind,
                                 cast(JsonObject, json.loads(e.payload))) for e in events]

    # -- tasks -----------------------------------------------------------------------------

    def _task_query(self) -> Any:
        return (select(m.TaskRow, m.CaseRow.la_child_id, m.ProcessInstanceRow.process_id)
                .join(m.CaseRow, m.CaseRow.id == m.TaskRow.case_id)
                .join(m.ProcessInstanceRow, m.ProcessInstanceRow.id == m.TaskRow.instance_id))

    def tasks(self, query: TaskFilter) -> list[TaskView]:
        with self._session() as session:
            statement = (self._task_query().where(m.TaskRow.status == query.status)
                         .order_by(m.TaskRow.due.is_(None), m.TaskRow.due, m.TaskRow.id))
            if query.case_id is not None:
                statement = statement.where(m.TaskRow.case_id == query.case_id)
            if query.assignee is not None:
                statement = statement.where(m.TaskRow.assignee == query.assignee)
            if query.overdue:
                statement = statement.where(m.TaskRow.due < today())
            return [_task_view(t, la, process)
                    for t, la, process in session.execute(statement).all()]

    def task(self, task_id: int) -> TaskView:
        _check_id(task_id, "task")
        with self._session() as session:
            row = session.execute(self._task_query().where(m.TaskRow.id == task_id)
                                  ).one_or_none()
            if row is None:
                raise NotFoundError(f"There is no task {task_id}")
            t, la, process = row
            return _task_view(t, la, process)

    def task_pack(self, task_id: int) -> tuple[str, str]:
        _check_id(task_id, "task")
        with self._session() as session:
            row = session.execute(
                select(m.ProcessInstanceRow.pack_name, m.ProcessInstanceRow.pack_version)
                .join(m.TaskRow, m.TaskRow.instance_id == m.ProcessInstanceRow.id)
                .where(m.TaskRow.id == task_id)).one_or_none()
            if row is None:
                raise NotFoundError(f"There is no task {task_id}")
            return row[0], row[1]

    def _live_query(self) -> Any:
        t, i = m.TaskRow, m.ProcessInstanceRow
        return (select(t, m.CaseRow.la_child_id, i.process_id, i.episode_seq, i.state,
                       i.pack_name, i.pack_version, m.CaseRow.worker, m.CaseRow.version)
                .join(m.CaseRow, m.CaseRow.id == t.case_id)
                .join(i, i.id == t.instance_id))

    @staticmethod
    def _live(row: Any) -> LiveTask:
        t = row[0]
        view = _task_view(t, row.la_child_id, row.process_id)
        return LiveTask(view, t.spiff_task_id, t.instance_id, row.episode_seq, row.state or "",
                        row.pack_name, row.pack_version, row.version, row.worker)

    def live_task(self, task_id: int) -> LiveTask:
        """The task, its case and its process instance in one SELECT (the hot path)."""
        _check_id(task_id, "task")
        with self._core() as conn:
            bundle = hotpath.load_task_bundle(conn, task_id)
        if bundle is None:
            raise NotFoundError(f"There is no task {task_id}")
        if bundle.status != "ready":
            when = bundle.completed_at.date().isoformat() if bundle.completed_at else "earlier"
            raise TaskStateError(f"Task {task_id} is already {bundle.status} ({when})")
        self._remember_head(bundle.case_id, bundle.case_version, bundle.head)
        view = TaskView(bundle.task_id, bundle.case_id, bundle.la_child_id, bundle.title,
                        bundle.form, bundle.role, bundle.assignee, bundle.due, bundle.status,
                        bundle.process_id, bundle.bpmn_id, bundle.created_at)
        return LiveTask(view, bundle.spiff_task_id, bundle.instance_id, bundle.episode_seq,
                        bundle.state, bundle.pack_name, bundle.pack_version,
                        bundle.case_version, bundle.case_worker)

    def _remember_head(self, case_id: int, version: int, head: tuple[int, str]) -> None:
        """The audit chain head read with ``version``: a write from that version then moves
        the head in its version check instead of reading it back (one statement fewer)."""
        with self._heads_lock:
            if len(self._heads) > 4096:
                self._heads.clear()
            self._heads[(case_id, version)] = head

    def record_at(self, case_id: int, version: int) -> CaseRecord:
        """The record as of ``version`` if it is cached, else as the database has it now (a
        write from ``version`` is refused anyway if the case has moved on)."""
        hit = self.cache.get(case_id, version)
        if hit is not None:
            return hit
        with self._core() as conn:
            return load_record(conn, case_id)

    def ready_work(self, case_id: int) -> list[LiveTask]:
        t = m.TaskRow
        with self._session() as session:
            rows = session.execute(
                self._live_query().where(t.status == "ready", t.case_id == case_id)
                .order_by(t.due.is_(None), t.due, t.id)).all()
            return [self._live(row) for row in rows]

    def instance_states(self) -> list[InstanceState]:
        i = m.ProcessInstanceRow
        with self._session() as session:
            rows = session.execute(select(i.process_id, i.state, i.episode_seq, i.id)).all()
            return [InstanceState(p, s or "", e, n) for p, s, e, n in rows]

    def case_instances(self, case_id: int) -> list[CaseInstance]:
        _check_id(case_id, "case")
        i = m.ProcessInstanceRow
        with self._session() as session:
            rows = session.execute(
                select(i.id, i.process_id, i.episode_seq, i.pack_name, i.pack_version, i.status,
                       i.state, i.next_timer_at).where(i.case_id == case_id).order_by(i.id)).all()
            return [CaseInstance(n, p, e, pn, pv, st, s or "", t)
                    for n, p, e, pn, pv, st, s, t in rows]

    # -- writing ---------------------------------------------------------------------------

    def write(self, change: CaseWrite) -> tuple[int, list[TaskView]]:
        if change.case_id is not None and change.pack is None and not change.worker \
                and not change.team:
            return change.case_id, self._write_core(change.case_id, change)
        with self._session() as session:
            if change.case_id is None:
                new = change.new_case
                if new is None:
                    raise ValueError("a new case needs its details")
                case = m.CaseRow(la_child_id=new.la_child_id, pack_name=new.pack_name,
                                 pack_version=new.pack_version, worker=new.worker,
                                 team=new.team, version=0, event_seq=0, head_hash="",
                                 created_at=_now())
                session.add(case)
                session.flush()
            else:
                found = session.get(m.CaseRow, change.case_id)
                if found is None:
                    raise NotFoundError(f"There is no case {change.case_id}")
                case = found
            opened = self._persist(session, case, change)
            if change.pack is not None:
                case.pack_name, case.pack_version = change.pack
            if change.worker:
                case.worker = change.worker
            if change.team:
                case.team = change.team
            case_id = case.id
        self.cache.put(case_id, change.seen_version + 1, change.outcome.record)
        return case_id, opened

    def _write_core(self, case_id: int, change: CaseWrite) -> list[TaskView]:
        """The hot path's write: one short transaction on SQLAlchemy Core, no ORM."""
        with self._heads_lock:
            head = self._heads.pop((case_id, change.seen_version), None)
        with self._core() as conn, hotpath.write_transaction(conn):
            written = hotpath.persist_outcome(conn, case_id, change.seen_version, change.before,
                                              change.outcome, change.actor, _now(),
                                              change.completed_task, head=head)
        self.cache.put(case_id, change.seen_version + 1, change.outcome.record)
        la_child_id = change.outcome.record.child.la_child_id
        return [TaskView(o.id, case_id, la_child_id, o.title, o.form, o.role, o.assignee, o.due,
                         o.status, o.process_id, o.bpmn_id, o.created_at) for o in written]

    def assign(self, task_id: int, assignee: str | None, actor: str,
               seen_version: int) -> TaskView:
        with self._session() as session:
            task = session.get(m.TaskRow, task_id)
            if task is None:
                raise NotFoundError(f"There is no task {task_id}")
            case = session.get(m.CaseRow, task.case_id)
            if case is None:
                raise NotFoundError(f"Task {task_id} has no case: the database is damaged")
            _lock(session, case, seen_version)
            if task.status != "ready":
                raise TaskStateError(f"Task {task_id} is already {task.status}")
            before = task.assignee
            task.assignee = assignee
            append_event(session, case, actor, "task.assigned",
                         {"task_id": task_id, "title": task.title, "from": before,
                          "to": assignee}, _now())
            process = session.get(m.ProcessInstanceRow, task.instance_id)
            view = _task_view(task, case.la_child_id, process.process_id if process else "")
            record = self.cache.get(case.id, seen_version)
        if record is not None:
            self.cache.put(view.case_id, seen_version + 1, record)
        return view

    def change_worker(self, case_id: int, worker: str, actor: str,
                      seen_version: int) -> list[TaskView]:
        """The case's allocated worker becomes ``worker``; its open tasks assigned to the old
        worker move with it. One event (``case.worker_changed``) records both."""
        with self._session() as session:
            case = session.get(m.CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"There is no case {case_id}")
            _lock(session, case, seen_version)
            before = case.worker
            case.worker = worker
            moved: list[m.TaskRow] = []
            if before is not None:
                moved = list(session.scalars(
                    select(m.TaskRow).where(m.TaskRow.case_id == case_id,
                                            m.TaskRow.status == "ready",
                                            m.TaskRow.assignee == before)
                    .order_by(m.TaskRow.id)))
            for task in moved:
                task.assignee = worker
            append_event(session, case, actor, "case.worker_changed",
                         {"from": before, "to": worker,
                          "tasks": [{"task_id": t.id, "title": t.title} for t in moved]}, _now())
            views = []
            for task in moved:
                process = session.get(m.ProcessInstanceRow, task.instance_id)
                views.append(_task_view(task, case.la_child_id,
                                        process.process_id if process else ""))
            record = self.cache.get(case_id, seen_version)
        if record is not None:
            self.cache.put(case_id, seen_version + 1, record)
        return views

    def _persist(self, session: Session, case: m.CaseRow, change: CaseWrite) -> list[TaskView]:
        """Write the outcome through the Core hot path (``hotpath.persist_outcome``) in the
        session's transaction: the version check first, which locks the case row until commit,
        so a racing writer waits there and then gets ConflictError."""
        session.flush()
        head = (case.event_seq, case.head_hash) if case.version == change.seen_version else None
        written = hotpath.persist_outcome(session.connection(), case.id, change.seen_version,
                                          change.before, change.outcome, change.actor, _now(),
                                          change.completed_task, head=head)
        # the case row changed under the ORM's feet: read it again if it is used after this
        session.expire(case)
        return [TaskView(o.id, case.id, change.outcome.record.child.la_child_id, o.title,
                         o.form, o.role, o.assignee, o.due, o.status, o.process_id, o.bpmn_id,
                         o.created_at) for o in written]

    # -- timers ----------------------------------------------------------------------------

    def fire_due_timers(self, until: datetime, fire: FireTimers, actor: str) -> int:
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
                record = load_record(session, case.id)
                work = TimerWork(row.id, row.process_id, row.episode_seq, row.state or "",
                                 row.pack_name, row.pack_version, case.worker)
                outcome, live = fire(work, record)
                if not outcome.instances:
                    # nothing due after all (e.g. a stale next_timer_at): recompute, move on
                    row.next_timer_at = live.workflow.next_timer_at()
                    if row.next_timer_at is not None and row.next_timer_at <= until:
                        row.next_timer_at = None
                    continue
                self._persist(session, case, CaseWrite(case.id, seen, record, outcome, actor))
                moved += 1

    # -- who may see a case, views, the inbox, drafts ----------------------------------------

    def case_access(self, case_id: int) -> CaseAccess:
        _check_id(case_id, "case")
        c = m.CaseRow
        with self._core() as conn:
            row = conn.execute(select(c.team, c.worker, c.restricted).where(c.id == case_id)
                               ).one_or_none()
            if row is None:
                raise NotFoundError(f"There is no case {case_id}")
            names = frozenset(conn.execute(
                select(m.CaseAccessRow.user_name).where(m.CaseAccessRow.case_id == case_id)
            ).scalars())
        return CaseAccess(case_id, row.team, row.worker, bool(row.restricted), names)

    def set_access(self, case_id: int, actor: str, seen_version: int, *,
                   restricted: bool | None = None, names: frozenset[str] | None = None,
                   add: str | None = None) -> None:
        _check_id(case_id, "case")
        a = m.CaseAccessRow
        wanted = set(names or ()) | ({add} if add else set())
        with self._session() as session:
            case = session.get(m.CaseRow, case_id)
            if case is None:
                raise NotFoundError(f"There is no case {case_id}")
            known = set(session.scalars(select(m.UserRow.name)
                                        .where(m.UserRow.name.in_(wanted))))
            missing = sorted(wanted - known)
            if missing:
                raise NotFoundError(f"There is no user {missing[0]!r}")
            _lock(session, case, seen_version)
            if names is not None:
                session.execute(delete(a).where(a.case_id == case_id))
                session.add_all(a(case_id=case_id, user_name=n) for n in sorted(names))
            if add and session.get(a, (case_id, add)) is None:
                session.add(a(case_id=case_id, user_name=add))
            if restricted is not None:
                case.restricted = restricted
            payload: dict[str, object]
            if restricted:
                kind, payload = "case.restricted", {"names": sorted(names or ())}
            elif restricted is False:
                kind, payload = "case.unrestricted", {}
            else:
                kind, payload = "case.access_granted", {"name": add}
            append_event(session, case, actor, kind, payload, _now())
            record = self.cache.get(case_id, seen_version)
        if record is not None:
            self.cache.put(case_id, seen_version + 1, record)

    def record_view(self, case_id: int, actor: str) -> None:
        _check_id(case_id, "case")
        with self._core() as conn, hotpath.write_transaction(conn):
            hotpath.append_unversioned_event(conn, case_id, "case.viewed", {}, actor, _now())

    def open_case_file(self, case_id: int, actor: str, may_open: MayOpen, *,
                       maps: bool = True, audit: bool = True) -> CaseFileRead | None:
        _check_id(case_id, "case")
        with self._core() as conn:
            return case_file.open_case_file(conn, case_id, actor, may_open, self.cache, _now(),
                                            maps=maps, audit=audit)

    def inbox(self, scope: InboxScope, query: InboxQuery) -> tuple[list[TaskView], int]:
        t, c, i, a = m.TaskRow, m.CaseRow, m.ProcessInstanceRow, m.CaseAccessRow
        conditions: list[Any] = [t.status == "ready"]
        if scope.assignee is not None:
            conditions.append(t.assignee == scope.assignee)
        if scope.in_teams is not None:
            if not scope.in_teams:
                return [], 0
            teams = sorted(scope.in_teams)
            if self.engine.dialect.name == "postgresql":
                # PostgreSQL hashes the team's cases against the ready tasks: 3x faster so
                conditions.append(c.team.in_(teams))
            else:
                # SQLite, given the teams' cases as a subquery, goes from them
                # (ix_cases_team) to their ready tasks (ix_tasks_case_id_status) rather than
                # through every ready task
                conditions.append(t.case_id.in_(
                    select(c.id).where(c.team.in_(teams)).scalar_subquery()))
        if scope.viewer is not None:
            # the cases named for the viewer as an uncorrelated IN (one hashed lookup), not a
            # correlated EXISTS per case: PostgreSQL then filters the cases once (3x faster)
            named = c.id.in_(select(a.case_id).where(a.user_name == scope.viewer)
                             .scalar_subquery())
            theirs: list[Any] = [c.worker == scope.viewer]
            if scope.teams:
                theirs.append(c.team.in_(sorted(scope.teams)))
            conditions.append(or_(and_(c.restricted.is_(False), or_(*theirs)), named))
        if query.stage:
            conditions.append(i.process_id == query.stage)
        if query.child:
            conditions.append(c.la_child_id.startswith(query.child, autoescape=True))
        if query.worker:
            conditions.append(t.assignee == query.worker)
        joined = t.__table__.join(c.__table__, c.id == t.case_id)
        if query.stage:
            joined = joined.join(i.__table__, i.id == t.instance_id)
        order = (t.due.is_(None), t.due, t.id)
        # one pass over the matching tasks gives the page's ids (sorting ids and due dates only)
        # and, by a window count, how many match in all; then the rows of those few ids
        ids = (select(t.id, func.count().over().label("total")).select_from(joined)
               .where(*conditions).order_by(*order)
               .limit(query.per_page).offset((query.page - 1) * query.per_page))
        with self._session() as session:
            found = session.execute(ids).all()
            if found:
                total = int(found[0].total)
            elif query.page > 1:  # past the last page: the window saw no row to count
                total = int(session.execute(select(func.count()).select_from(joined)
                                            .where(*conditions)).scalar_one())
            else:
                return [], 0
            if not found:
                return [], total
            page = (select(t, c.la_child_id, i.process_id)
                    .join(c, c.id == t.case_id).join(i, i.id == t.instance_id)
                    .where(t.id.in_([row.id for row in found]))
                    .order_by(*order))
            rows = session.execute(page).all()
            return [_task_view(task, la, process) for task, la, process in rows], total

    def save_draft(self, task_id: int, user: str, values_json: str) -> None:
        d = m.TaskDraftRow
        with self._session() as session:
            changed = cast(CursorResult[Any], session.execute(
                update(d).where(d.task_id == task_id, d.user_name == user)
                .values(answers=values_json, saved_at=_now())))
            if changed.rowcount != 1:
                session.add(d(task_id=task_id, user_name=user, answers=values_json,
                              saved_at=_now()))

    def draft(self, task_id: int, user: str) -> str | None:
        d = m.TaskDraftRow
        with self._session() as session:
            found: str | None = session.scalar(
                select(d.answers).where(d.task_id == task_id, d.user_name == user))
            return found
