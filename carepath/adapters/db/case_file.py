"""Opening a case file: the case row, its record, tasks, process instances, events and audit
read once, and the view recorded, in as few statements as it takes.

The case row is read once, with the names it is shared with and which optional record tables
hold its rows (one statement), and who may see it decided on that before anything else is read.
Then the ready tasks, the running process instances and the events, each in one statement, the
record from the cache or :func:`records.load_record`, and for the audit check the stored record
rows not read with the record (``record_audit.load_stored``). The view (``case.viewed``) is
chained on the head read with the case row, in two statements that move the head only if it has
not moved since (:func:`hotpath.append_unversioned_event_after`): every change to a case moves
its head, so a view recorded means everything read is the case as it was when its row was read.
If the head moved (someone changed or viewed the case meanwhile), it is read again; the last try
locks the case row first. The events read, with the view's own, are both the case's history and
what the audit check replays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select

from carepath.core.errors import NotFoundError
from carepath.engine.record.case_record import CaseRecord
from carepath.service.ports import CaseAccess, CaseFileRead, CaseInstance, MayOpen
from carepath.service.types import AuditProblem, CaseHead, HistoryEntry, JsonObject, TaskView

from . import hotpath
from . import models as m
from .audit import check_case
from .record_audit import StoredCase, load_stored, presence_probes, present_in
from .record_cache import RecordCache
from .records import LoadedRows, load_record

# Tries without a lock before the case row is locked while it is read.
ATTEMPTS = 3

_cases = cast(Table, m.CaseRow.__table__)
_access = cast(Table, m.CaseAccessRow.__table__)
_tasks = cast(Table, m.TaskRow.__table__)
_instances = cast(Table, m.ProcessInstanceRow.__table__)
_events = cast(Table, m.EventRow.__table__)

_CASE: Any = bindparam("b_case")
# The case row and the names on it (one row per name; one row with no name if none).
_HEAD = (
    select(_cases.c.id, _cases.c.la_child_id, _cases.c.pack_name, _cases.c.pack_version,
           _cases.c.worker, _cases.c.team, _cases.c.version, _cases.c.restricted,
           _cases.c.event_seq, _cases.c.head_hash, _access.c.user_name)
    .select_from(_cases.outerjoin(_access, _access.c.case_id == _cases.c.id))
    .where(_cases.c.id == _CASE)
)
# With the audit: which optional record tables hold rows of the case, in the same statement.
_HEAD_AUDIT = _HEAD.add_columns(*presence_probes(_CASE))
_HEADS = {(False, False): _HEAD, (False, True): _HEAD.with_for_update(of=_cases),
          (True, False): _HEAD_AUDIT, (True, True): _HEAD_AUDIT.with_for_update(of=_cases)}
_READY_TASKS = (
    select(_tasks.c.id, _tasks.c.title, _tasks.c.form, _tasks.c.role, _tasks.c.assignee,
           _tasks.c.due, _tasks.c.status, _instances.c.process_id, _tasks.c.bpmn_id,
           _tasks.c.created_at, _instances.c.episode_seq)
    .join(_instances, _instances.c.id == _tasks.c.instance_id)
    .where(_tasks.c.case_id == _CASE, _tasks.c.status == m.TASK_READY)
    .order_by(_tasks.c.due.is_(None), _tasks.c.due, _tasks.c.id)
)
_RUNNING = (
    select(_instances.c.id, _instances.c.process_id, _instances.c.episode_seq,
           _instances.c.pack_name, _instances.c.pack_version, _instances.c.status,
           _instances.c.state)
    .where(_instances.c.case_id == _CASE, _instances.c.status == m.INSTANCE_RUNNING)
    .order_by(_instances.c.id)
)
_EVENTS = (
    select(_events.c.case_id, _events.c.seq, _events.c.at, _events.c.actor, _events.c.kind,
           _events.c.payload, _events.c.prev_hash, _events.c.hash)
    .where(_events.c.case_id == _CASE)
    .order_by(_events.c.seq)
)


@dataclass
class _Read:
    case: Any  # the case row's columns, as record_audit and audit read them
    head: CaseHead
    access: CaseAccess
    chain: tuple[int, str]
    record: CaseRecord
    cached: bool  # the record came from the cache
    tasks: list[TaskView]
    task_episodes: dict[int, int]
    instances: list[CaseInstance]
    events: list[Any]
    stored: StoredCase | None  # for the audit check


def _read(conn: Connection, case_id: int, cache: RecordCache, may_open: MayOpen, *,
          maps: bool, audit: bool, lock: bool) -> _Read | None:
    rows = conn.execute(_HEADS[audit, lock], {"b_case": case_id}).all()
    if not rows:
        raise NotFoundError(f"There is no case {case_id}")
    c = rows[0]
    names = frozenset(r.user_name for r in rows if r.user_name is not None)
    access = CaseAccess(case_id, c.team, c.worker, bool(c.restricted), names)
    if not may_open(access):
        return None
    head = CaseHead(case_id, c.la_child_id, c.pack_name, c.pack_version, c.worker, c.team,
                    c.version)
    params = {"b_case": case_id}
    tasks: list[TaskView] = []
    episodes: dict[int, int] = {}
    for t in conn.execute(_READY_TASKS, params):
        tasks.append(TaskView(t.id, case_id, c.la_child_id, t.title, t.form, t.role,
                              t.assignee, t.due, t.status, t.process_id, t.bpmn_id,
                              t.created_at))
        episodes[t.id] = t.episode_seq
    instances = [CaseInstance(i.id, i.process_id, i.episode_seq, i.pack_name, i.pack_version,
                              i.status, i.state or "")
                 for i in conn.execute(_RUNNING, params)] if maps else []
    events = list(conn.execute(_EVENTS, params))
    cached = cache.get(case_id, c.version)
    loaded = LoadedRows() if audit and cached is None else None
    record = cached if cached is not None else load_record(conn, case_id, loaded)
    stored = load_stored(conn, [c], case_id, case_id, access=names, present=present_in(c),
                         loaded=loaded)[case_id] if audit else None
    return _Read(c, head, access, (c.event_seq or 0, c.head_hash or ""), record,
                 cached is not None, tasks, episodes, instances, events, stored)


def _finish(read: _Read, view: dict[str, Any], audit: bool) -> CaseFileRead:
    events = [*read.events, SimpleNamespace(**view)]
    history = [HistoryEntry(e.seq, e.at, e.actor, e.kind, cast(JsonObject, json.loads(e.payload)))
               for e in events]
    problems: list[AuditProblem] | None = None
    if audit and read.stored is not None:
        case = SimpleNamespace(**read.case._mapping)
        case.event_seq, case.head_hash = view["seq"], view["hash"]
        problems = check_case(case, read.stored, events)
    return CaseFileRead(read.head, read.access, read.record, read.tasks, read.task_episodes,
                        read.instances, history, problems)


@contextmanager
def _attempt(conn: Connection, lock: bool) -> Iterator[None]:
    """One try: the last one in a write transaction from its first statement (the case row
    locked while it is read); the others end with their transaction, committed only if the
    view was recorded (rolled back otherwise)."""
    if lock:
        with hotpath.write_transaction(conn):
            yield
        return
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()


def open_case_file(conn: Connection, case_id: int, actor: str, may_open: MayOpen,
                   cache: RecordCache, now: datetime, *, maps: bool = True,
                   audit: bool = True) -> CaseFileRead | None:
    """See :meth:`carepath.service.ports.CaseRepository.open_case_file`. On PostgreSQL the
    reads and the view's two statements are one transaction; on SQLite the view is written in
    a transaction of its own (``BEGIN IMMEDIATE``: a read transaction cannot become a write one
    once another connection has written)."""
    sqlite = conn.dialect.name == "sqlite"
    for attempt in range(ATTEMPTS):
        lock = attempt == ATTEMPTS - 1
        with _attempt(conn, lock):
            read = _read(conn, case_id, cache, may_open, maps=maps, audit=audit, lock=lock)
            if read is None:
                return None
            if sqlite and not lock:
                with hotpath.write_transaction(conn):
                    view = hotpath.append_unversioned_event_after(
                        conn, case_id, read.chain, "case.viewed", {}, actor, now)
            else:
                view = hotpath.append_unversioned_event_after(
                    conn, case_id, read.chain, "case.viewed", {}, actor, now)
                if view is not None and not lock:
                    conn.commit()
        if view is not None:
            if not read.cached:
                cache.put(case_id, read.head.version, read.record)
            return _finish(read, view, audit)
    raise AssertionError("the locked try always records the view")  # pragma: no cover
