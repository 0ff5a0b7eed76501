"""The persistence hot path of a task completion, on SQLAlchemy Core (no ORM unit of work).

A completion is read in one short read (:func:`load_task_bundle`: the task, its case and its
process instance in ONE joined SELECT; the record from a cache or :func:`records.load_record`),
worked out in memory by the runtime with no transaction open, and written by
:func:`persist_outcome` in one short write transaction (:func:`write_transaction`), which does
exactly what the ORM path of the case store did, writing identical rows:

1. the optimistic version check first: ``UPDATE cases SET version = version + 1 WHERE id = :id
   AND version = :seen`` (:class:`ConflictError` if no row matched; nothing else is written).
   When the caller passes the case's audit chain head read with ``seen`` (``head=``), the new
   head goes in the same UPDATE; otherwise the UPDATE returns the head (``RETURNING``) and a
   last UPDATE moves it;
2. the record rows that differ (:func:`records.save_record`);
3. the process instances: new ones inserted; existing ones updated only if the runtime changed
   them (``LiveInstance.changed``) or their status changed: an unchanged workflow is not dumped;
4. the task rows: tasks no longer ready closed, new ones inserted (ids from ``RETURNING``);
5. when the completion closed the episode, the work still open on it cancelled;
6. every event in ONE multi-row INSERT, hash-chained as :mod:`audit` chains them.

Statements are built once, at import. On SQLite the write transaction starts with ``BEGIN
IMMEDIATE``, so concurrent writers queue on the busy timeout instead of failing on a stale
snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Table,
    and_,
    bindparam,
    case,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import OperationalError

from carepath.core.errors import ConflictError, NotFoundError
from carepath.engine.record.case_record import CaseRecord
from carepath.engine.runtime import LiveInstance, Outcome

from . import models as m
from .audit import canonical_json, event_hash
from .database import CONFLICT_MESSAGE
from .fastexec import FastStatement
from .records import save_record

__all__ = [
    "OpenedTask",
    "TaskBundle",
    "load_task_bundle",
    "append_unversioned_event",
    "append_unversioned_event_after",
    "persist_outcome",
    "write_transaction",
]

_cases = cast(Table, m.CaseRow.__table__)
_instances = cast(Table, m.ProcessInstanceRow.__table__)
_tasks = cast(Table, m.TaskRow.__table__)
_events = cast(Table, m.EventRow.__table__)
_drafts = cast(Table, m.TaskDraftRow.__table__)


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskBundle:
    """A task with its case and its process instance, as one SELECT reads them.

    ``event_seq`` and ``head_hash`` are the case's audit chain head, read with ``case_version``:
    pass them to :func:`persist_outcome` as ``head`` to save it a statement.
    """

    task_id: int
    status: str
    completed_at: datetime | None
    spiff_task_id: str
    bpmn_id: str
    title: str
    form: str | None
    role: str | None
    assignee: str | None
    due: date | None
    created_at: datetime
    case_id: int
    la_child_id: str
    case_version: int
    case_worker: str | None
    case_team: str | None
    instance_id: int
    process_id: str
    episode_seq: int
    state: str
    instance_status: str
    pack_name: str
    pack_version: str
    event_seq: int = 0
    head_hash: str = ""

    @property
    def head(self) -> tuple[int, str]:
        return self.event_seq, self.head_hash


_BUNDLE = (
    select(
        _tasks.c.id.label("task_id"),
        _tasks.c.status,
        _tasks.c.completed_at,
        _tasks.c.spiff_task_id,
        _tasks.c.bpmn_id,
        _tasks.c.title,
        _tasks.c.form,
        _tasks.c.role,
        _tasks.c.assignee,
        _tasks.c.due,
        _tasks.c.created_at,
        _cases.c.id.label("case_id"),
        _cases.c.la_child_id,
        _cases.c.version.label("case_version"),
        _cases.c.worker.label("case_worker"),
        _cases.c.team.label("case_team"),
        _instances.c.id.label("instance_id"),
        _instances.c.process_id,
        _instances.c.episode_seq,
        _instances.c.state,
        _instances.c.status.label("instance_status"),
        _instances.c.pack_name,
        _instances.c.pack_version,
        _cases.c.event_seq,
        _cases.c.head_hash,
    )
    .select_from(
        _tasks.outerjoin(_cases, _cases.c.id == _tasks.c.case_id).outerjoin(
            _instances, _instances.c.id == _tasks.c.instance_id
        )
    )
    .where(_tasks.c.id == bindparam("b_task"))
)


_FAST_BUNDLE = FastStatement(_BUNDLE)


def load_task_bundle(conn: Connection, task_id: int) -> TaskBundle | None:
    """The task, its case and its process instance in one SELECT; None if there is no such task.

    Raises :class:`NotFoundError` if the task's case or process instance (or its state) is
    missing: the database is damaged."""
    row = _FAST_BUNDLE.one_or_none(conn, {"b_task": task_id})
    if row is None:
        return None
    bundle = TaskBundle(*row)
    if bundle.case_id is None or bundle.instance_id is None or bundle.state is None:
        raise NotFoundError(f"Task {task_id} has no case or process: the database is damaged")
    return bundle


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedTask:
    """A task row :func:`persist_outcome` inserted (what ``store.TaskView`` shows of it)."""

    id: int
    case_id: int
    title: str
    form: str | None
    role: str | None
    assignee: str | None
    due: date | None
    status: str
    process_id: str
    bpmn_id: str
    created_at: datetime
    instance_id: int
    spiff_task_id: str


@contextmanager
def write_transaction(conn: Connection) -> Iterator[Connection]:
    """One write transaction on ``conn`` (which must have none open): committed on success,
    rolled back on any exception. SQLite starts it with ``BEGIN IMMEDIATE`` (the write lock is
    taken up front, waiting up to the busy timeout), and a lock still busy then is a
    :class:`ConflictError`, as a lost race is."""
    if conn.in_transaction():
        conn.rollback()  # end the read transaction a bundle or record was read in
    try:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
        conn.commit()
    except OperationalError as exc:
        conn.rollback()
        reason = str(exc.orig)
        if "locked" in reason or "busy" in reason.lower():
            raise ConflictError(CONFLICT_MESSAGE) from None
        raise
    except BaseException:
        conn.rollback()
        raise


_BUMP = (
    update(_cases)
    .where(_cases.c.id == bindparam("b_case"), _cases.c.version == bindparam("b_seen"))
    .values(version=_cases.c.version + 1)
)
# The head read with ``seen`` is still the head: an event written without a version bump (a
# case.viewed event) moves the head but not the version, and then this matches no row.
_BUMP_WITH_HEAD = _BUMP.where(_cases.c.event_seq == bindparam("b_old_seq")).values(
    event_seq=bindparam("b_seq"), head_hash=bindparam("b_head"))
_BUMP_RETURNING_HEAD = _BUMP.returning(_cases.c.event_seq, _cases.c.head_hash)
_MOVE_HEAD = (
    update(_cases)
    .where(_cases.c.id == bindparam("b_case"))
    .values(event_seq=bindparam("b_seq"), head_hash=bindparam("b_head"))
)
# The head moves only if it is still the one read (``b_old_seq``): no lock taken beforehand.
_MOVE_HEAD_FROM = _MOVE_HEAD.where(_cases.c.event_seq == bindparam("b_old_seq"))
_INSERT_INSTANCE = insert(_instances).returning(_instances.c.id)
_UPDATE_INSTANCE = (
    update(_instances)
    .where(_instances.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        status=bindparam("b_status"),
        next_timer_at=bindparam("b_next_timer", type_=m.UTCDateTime()),
        # as the ORM path: a finished instance keeps the first time it finished
        completed_at=case(
            (
                and_(bindparam("b_status") != m.INSTANCE_RUNNING,
                     _instances.c.completed_at.is_(None)),
                bindparam("b_now", type_=m.UTCDateTime()),
            ),
            else_=_instances.c.completed_at,
        ),
    )
)
_CLOSE_TASK = (
    update(_tasks)
    .where(
        _tasks.c.instance_id == bindparam("b_instance"),
        _tasks.c.spiff_task_id == bindparam("b_spiff"),
        _tasks.c.status == m.TASK_READY,
    )
    .values(
        status=bindparam("b_status"),
        completed_at=bindparam("b_now", type_=m.UTCDateTime()),
        completed_by=bindparam("b_by"),
    )
)
_INSERT_TASK = insert(_tasks).returning(_tasks.c.id)
_INSERT_TASKS = insert(_tasks).returning(_tasks.c.id, sort_by_parameter_order=True)
_RUNNING_IN_EPISODE = (
    select(_instances.c.id, _instances.c.process_id)
    .where(
        _instances.c.case_id == bindparam("b_case"),
        _instances.c.episode_seq == bindparam("b_episode"),
        _instances.c.status == m.INSTANCE_RUNNING,
    )
    .order_by(_instances.c.id)
)
_CANCEL_TASKS = (
    update(_tasks)
    .where(_tasks.c.instance_id.in_(bindparam("b_ids", expanding=True)),
           _tasks.c.status == m.TASK_READY)
    .values(status=m.TASK_CANCELLED, completed_at=bindparam("b_now", type_=m.UTCDateTime()))
)
_CANCEL_INSTANCES = (
    update(_instances)
    .where(_instances.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(status=m.INSTANCE_CANCELLED,
            completed_at=bindparam("b_now", type_=m.UTCDateTime()), next_timer_at=None)
)
_EVENT_COLUMNS = ("case_id", "seq", "at", "actor", "kind", "payload", "prev_hash", "hash")
_DROP_DRAFTS = delete(_drafts).where(_drafts.c.task_id == bindparam("b_task"))
_LOCK_HEAD = (select(_cases.c.event_seq, _cases.c.head_hash)
              .where(_cases.c.id == bindparam("b_case")).with_for_update())


@lru_cache(maxsize=32)
def _insert_events(rows: int) -> FastStatement:
    """``INSERT INTO events (…) VALUES (…), (…), …`` for ``rows`` rows: built, and compiled per
    database, once per number of rows (SQLAlchemy does not cache multi-VALUES inserts)."""
    return FastStatement(insert(_events).values([
        {name: bindparam(f"{name}_{i}", type_=_events.c[name].type) for name in _EVENT_COLUMNS}
        for i in range(rows)
    ]))


_FAST_BUMP_WITH_HEAD = FastStatement(_BUMP_WITH_HEAD)
_FAST_BUMP_RETURNING_HEAD = FastStatement(_BUMP_RETURNING_HEAD)
_FAST_INSERT_INSTANCE = FastStatement(_INSERT_INSTANCE)
_FAST_UPDATE_INSTANCE = FastStatement(_UPDATE_INSTANCE)
_FAST_CLOSE_TASK = FastStatement(_CLOSE_TASK)
_FAST_INSERT_TASK = FastStatement(_INSERT_TASK)
_FAST_MOVE_HEAD_FROM = FastStatement(_MOVE_HEAD_FROM)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


@dataclass
class _Instance:
    """A process instance row as this transaction leaves it."""

    id: int
    process_id: str
    status: str


def persist_outcome(conn: Connection, case_id: int, seen_version: int,
                    before: CaseRecord | None, outcome: Outcome, actor: str, now: datetime,
                    completed_task: int | None = None, *,
                    head: tuple[int, str] | None = None) -> list[OpenedTask]:
    """Write ``outcome`` (worked out from the case as it was at ``seen_version``, with
    ``before`` its record as loaded) in the caller's transaction; returns the tasks it opened.

    Raises :class:`ConflictError` (before writing anything) if the case is no longer at
    ``seen_version``. ``head`` is the case's ``(event_seq, head_hash)`` read together with
    ``seen_version`` (``TaskBundle.head``); without it the head is read back from the version
    UPDATE. ``completed_task`` is the id of the task completed, recorded in its event.
    Sets ``db_id`` of the new instances of the outcome, as the ORM path does.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"An event time must carry a time zone (got {now.isoformat()})")
    at = now.astimezone(UTC)
    events: list[tuple[str, dict[str, Any]]] = []
    for kind, payload in outcome.events:
        if kind == "task.completed" and completed_task is not None:
            payload = {"task_id": completed_task, **payload}
        events.append((kind, payload))

    # 1. the version check, first: the case row stays locked until commit
    chained: list[dict[str, Any]] | None = None
    if head is not None and not outcome.episode_closed:
        # every event is known now: the chain head moves in the same statement
        chained, seq, last = chain_events(case_id, head, events, actor, at)
        bumped = _FAST_BUMP_WITH_HEAD.rowcount(conn, {"b_case": case_id, "b_seen": seen_version,
                                                      "b_old_seq": head[0], "b_seq": seq,
                                                      "b_head": last})
        if bumped != 1:
            # the version moved (a conflict), or only the head did (someone viewed the case
            # since): the version check again, reading the head as it is now
            chained = None
            found = _FAST_BUMP_RETURNING_HEAD.one_or_none(conn, {"b_case": case_id,
                                                                "b_seen": seen_version})
            if found is None:
                raise ConflictError(CONFLICT_MESSAGE)
            head = (found[0] or 0, found[1] or "")
    else:
        found = _FAST_BUMP_RETURNING_HEAD.one_or_none(conn, {"b_case": case_id,
                                                            "b_seen": seen_version})
        if found is None:
            raise ConflictError(CONFLICT_MESSAGE)
        head = (found[0] or 0, found[1] or "")

    # 2. the record
    save_record(conn, case_id, before, outcome.record)

    # 3. the process instances
    rows: dict[int, _Instance] = {}
    for live in outcome.instances:
        rows[id(live)] = _save_instance(conn, case_id, live, now)

    # 4. the tasks
    new_rows = [{"case_id": case_id, "instance_id": rows[id(new.instance)].id,
                 "spiff_task_id": new.task.id, "bpmn_id": new.task.bpmn_id,
                 "title": new.task.title, "form": new.task.form, "role": new.task.role,
                 "assignee": new.assignee, "due": new.due, "status": m.TASK_READY,
                 "created_at": now}
                for new in outcome.opened]
    if len(new_rows) == 1:
        ids = [int(_FAST_INSERT_TASK.scalar(conn, new_rows[0]))]
    elif new_rows:
        ids = [int(i) for i in conn.execute(_INSERT_TASKS, new_rows).scalars().all()]
    else:
        ids = []
    # closed after the new tasks are in: a task opened and closed by the same outcome (an
    # action's first task completed with the action) ends with its final status
    closed = [{"b_instance": rows[id(live)].id, "b_spiff": spiff_id, "b_status": status,
               "b_now": now, "b_by": actor if status == m.TASK_COMPLETED else None}
              for live, spiff_id, status in outcome.closed]
    if len(closed) == 1:
        _FAST_CLOSE_TASK.run(conn, closed[0])
    elif closed:
        conn.execute(_CLOSE_TASK, closed)
    final = {(id(live), spiff_id): status for live, spiff_id, status in outcome.closed}
    if completed_task is not None:  # its drafts are done with
        conn.execute(_DROP_DRAFTS, {"b_task": completed_task})

    # 5. an episode closed: the work still open on it stops
    if outcome.episode_closed:
        events.extend(_cancel_episode_work(conn, case_id, outcome, rows, now))

    # 6. the events, in one statement, and the chain head
    if chained is None:
        chained, seq, last = chain_events(case_id, head, events, actor, at)
        if chained:
            conn.execute(_MOVE_HEAD, {"b_case": case_id, "b_seq": seq, "b_head": last})
    if chained:
        params: dict[str, Any] = {}
        for i, row in enumerate(chained):
            for name in _EVENT_COLUMNS:
                params[f"{name}_{i}"] = row[name]
        _insert_events(len(chained)).run(conn, params)

    return [OpenedTask(id=task_id, case_id=case_id, title=new.task.title, form=new.task.form,
                       role=new.task.role, assignee=new.assignee, due=new.due,
                       status=final.get((id(new.instance), new.task.id), m.TASK_READY),
                       process_id=rows[id(new.instance)].process_id,
                       bpmn_id=new.task.bpmn_id, created_at=now,
                       instance_id=rows[id(new.instance)].id, spiff_task_id=new.task.id)
            for task_id, new in zip(ids, outcome.opened, strict=True)]


def chain_events(case_id: int, head: tuple[int, str], events: list[tuple[str, dict[str, Any]]],
           actor: str, at: datetime) -> tuple[list[dict[str, Any]], int, str]:
    """The event rows, chained on from ``head`` as :func:`audit.append_event` chains them."""
    seq, prev = head
    rows: list[dict[str, Any]] = []
    for kind, payload in events:
        seq += 1
        payload_json = canonical_json(dict(payload))
        digest = event_hash(prev, case_id, seq, at, actor, kind, payload_json)
        rows.append({"case_id": case_id, "seq": seq, "at": at, "actor": actor, "kind": kind,
                     "payload": payload_json, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows, seq, prev


def _save_instance(conn: Connection, case_id: int, live: LiveInstance, now: datetime
                   ) -> _Instance:
    running = live.status == m.INSTANCE_RUNNING
    if live.db_id is None:
        state = live.workflow.dump()
        new_id = int(_FAST_INSERT_INSTANCE.scalar(conn, {
            "case_id": case_id, "episode_seq": live.episode_seq, "process_id": live.process_id,
            "pack_name": live.pack_name, "pack_version": live.pack_version,
            "status": live.status, "state": state,
            "next_timer_at": live.workflow.next_timer_at() if running else None,
            "created_at": now, "completed_at": None if running else now,
        }))
        live.db_id = new_id
        return _Instance(new_id, live.process_id, live.status)
    # A restored instance is running in the database (only running ones are restored): it is
    # written if the runtime moved its workflow or finished it, and not dumped otherwise.
    if live.changed or not running:
        updated = _FAST_UPDATE_INSTANCE.rowcount(conn, {
            "b_id": live.db_id, "b_state": live.workflow.dump(), "b_status": live.status,
            "b_next_timer": live.workflow.next_timer_at() if running else None, "b_now": now,
        })
        if updated != 1:
            raise NotFoundError(f"process instance {live.db_id} is missing")
    return _Instance(live.db_id, live.process_id, live.status)


def _cancel_episode_work(conn: Connection, case_id: int, outcome: Outcome,
                         rows: Mapping[int, _Instance], now: datetime
                         ) -> list[tuple[str, dict[str, Any]]]:
    """The episode closed: work still open on it (other stages, timers) stops here (as
    the episode-closing rule: every instance of the episode still running, and any
    other this outcome touched that is, lose their ready tasks and are cancelled)."""
    episode_seq = len(outcome.record.episodes) - 1
    others = conn.execute(_RUNNING_IN_EPISODE,
                          {"b_case": case_id, "b_episode": episode_seq}).all()
    touched = [r.id for r in rows.values()]
    cancelled = _rowcount(conn.execute(_CANCEL_TASKS, {
        "b_ids": [r.id for r in others] + touched, "b_now": now}))
    running: dict[int, str] = {r.id: r.process_id for r in others}
    for row in rows.values():
        if row.status == m.INSTANCE_RUNNING and row.id not in running:
            running[row.id] = row.process_id
    events: list[tuple[str, dict[str, Any]]] = []
    if running:
        conn.execute(_CANCEL_INSTANCES, {"b_ids": list(running), "b_now": now})
        for row in rows.values():
            if row.id in running:
                row.status = m.INSTANCE_CANCELLED
        events.extend(("process.cancelled", {"process": process, "reason": "episode closed"})
                      for process in running.values())
    if cancelled:
        events.append(("tasks.cancelled", {"count": cancelled, "reason": "episode closed"}))
    return events


def append_unversioned_event(conn: Connection, case_id: int, kind: str,
                             payload: Mapping[str, Any], actor: str, now: datetime) -> None:
    """One event in the case's audit chain that changes nothing on the case (a view): the
    chain head moves, the version does not, so nobody's next write is refused for it. The
    case row is locked (SQLite: the write transaction's lock) while the head moves."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"An event time must carry a time zone (got {now.isoformat()})")
    found = conn.execute(_LOCK_HEAD, {"b_case": case_id}).one_or_none()
    if found is None:
        raise NotFoundError(f"There is no case {case_id}")
    chained, seq, last = chain_events(case_id, (found[0] or 0, found[1] or ""),
                                [(kind, dict(payload))], actor, now.astimezone(UTC))
    conn.execute(_MOVE_HEAD, {"b_case": case_id, "b_seq": seq, "b_head": last})
    params = {f"{name}_0": chained[0][name] for name in _EVENT_COLUMNS}
    _insert_events(1).run(conn, params)


def append_unversioned_event_after(conn: Connection, case_id: int, head: tuple[int, str],
                                   kind: str, payload: Mapping[str, Any], actor: str,
                                   now: datetime) -> dict[str, Any] | None:
    """As :func:`append_unversioned_event`, chained on ``head`` (the case's ``(event_seq,
    head_hash)`` read earlier) without locking the case row first: two statements, the head
    moved only if it is still ``head``. Returns the event row written, or None (nothing
    written) if the head has moved since it was read: every change to a case moves its head,
    so a row returned means the case is still as it was read."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"An event time must carry a time zone (got {now.isoformat()})")
    chained, seq, last = chain_events(case_id, head, [(kind, dict(payload))], actor,
                                now.astimezone(UTC))
    moved = _FAST_MOVE_HEAD_FROM.rowcount(conn, {"b_case": case_id, "b_old_seq": head[0],
                                                 "b_seq": seq, "b_head": last})
    if moved != 1:
        return None
    _insert_events(1).run(conn, {f"{name}_0": chained[0][name] for name in _EVENT_COLUMNS})
    return chained[0]
