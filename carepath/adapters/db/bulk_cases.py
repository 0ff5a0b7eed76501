"""A batch of cases worked out in memory, written to the database in one transaction.

``carepath simulate`` runs each batch of children through the story runner on a
:class:`~carepath.adapters.memory_cases.MemoryCaseRepository` and then writes the batch here:
the rows are those the case-by-case path (``hotpath.persist_outcome`` at every step) would have
left — the same states, tasks, record and events with their audit chain — written with a few
multi-row statements instead of a transaction per step.

Ids are given when the batch is written, with the tables locked (SQLite's write lock,
PostgreSQL's ``LOCK TABLE``): the store's own ids (counted from 1) move up past the largest
case, instance and task ids in the database, in the rows and in the events that name a task
(a ``task_id`` in the payload, wherever it is), before the events are chained. So several
processes can work out batches at once and write them in turn (``simulate --jobs``), and cases
written by anyone else meanwhile are never in the way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from carepath.adapters.db import hotpath
from carepath.adapters.db import models as m
from carepath.adapters.db.records import save_record
from carepath.adapters.memory_cases import MemoryCase, MemoryCaseRepository
from carepath.core.errors import ConflictError, NotFoundError

_cases = cast(Table, m.CaseRow.__table__)
_instances = cast(Table, m.ProcessInstanceRow.__table__)
_tasks = cast(Table, m.TaskRow.__table__)
_events = cast(Table, m.EventRow.__table__)


@dataclass(frozen=True)
class Offsets:
    """What the batch's own ids were moved up by when it was written."""

    case: int
    instance: int
    task: int


def _largest_ids(conn: Connection) -> Offsets:
    row = conn.execute(select(
        select(func.coalesce(func.max(_cases.c.id), 0)).scalar_subquery(),
        select(func.coalesce(func.max(_instances.c.id), 0)).scalar_subquery(),
        select(func.coalesce(func.max(_tasks.c.id), 0)).scalar_subquery())).one()
    return Offsets(int(row[0]), int(row[1]), int(row[2]))


def _task_ids_moved(value: Any, by: int) -> Any:
    """A payload with every ``task_id`` in it moved up by ``by``."""
    if isinstance(value, dict):
        return {k: (v + by if k == "task_id" and isinstance(v, int) else _task_ids_moved(v, by))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_task_ids_moved(v, by) for v in value]
    return value


def _event_rows(case: MemoryCase, case_id: int, task_offset: int
                ) -> tuple[list[dict[str, Any]], int, str]:
    """The case's events chained from the start, as each write would have chained them."""
    rows: list[dict[str, Any]] = []
    head = (0, "")
    for event in case.events:
        chained, seq, last = hotpath.chain_events(
            case_id, head, [(event.kind, _task_ids_moved(dict(event.payload), task_offset))],
            event.actor, event.at.astimezone(UTC))
        rows += chained
        head = (seq, last)
    return rows, head[0], head[1]


def _write(conn: Connection, cases: list[MemoryCase], by: Offsets) -> None:
    case_rows: list[dict[str, Any]] = []
    instance_rows: list[dict[str, Any]] = []
    task_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    for case in cases:
        case_id = case.id + by.case
        events, seq, head = _event_rows(case, case_id, by.task)
        event_rows += events
        case_rows.append({"id": case_id, "la_child_id": case.la_child_id,
                          "pack_name": case.pack_name, "pack_version": case.pack_version,
                          "worker": case.worker, "team": case.team, "version": case.version,
                          "event_seq": seq, "head_hash": head, "created_at": case.created_at,
                          "restricted": False})
        instance_rows += [{"id": i.id + by.instance, "case_id": case_id,
                           "episode_seq": i.episode_seq, "process_id": i.process_id,
                           "pack_name": i.pack_name, "pack_version": i.pack_version,
                           "status": i.status, "state": i.state,
                           "next_timer_at": i.next_timer_at, "created_at": i.created_at,
                           "completed_at": i.completed_at} for i in case.instances]
        task_rows += [{"id": t.id + by.task, "case_id": case_id,
                       "instance_id": t.instance_id + by.instance,
                       "spiff_task_id": t.spiff_task_id, "bpmn_id": t.bpmn_id,
                       "title": t.title, "form": t.form, "role": t.role,
                       "assignee": t.assignee, "due": t.due, "status": t.status,
                       "created_at": t.created_at, "completed_at": t.completed_at,
                       "completed_by": t.completed_by} for t in case.tasks]
    conn.execute(insert(_cases), case_rows)
    for case in cases:
        save_record(conn, case.id + by.case, None, case.record)
    for table, rows in ((_instances, instance_rows), (_tasks, task_rows),
                        (_events, event_rows)):
        if rows:
            conn.execute(insert(table), rows)


def write_batch(engine: Engine, batch: MemoryCaseRepository) -> Offsets:
    """Write every case of ``batch`` in one transaction, with the database's next ids;
    returns what its own ids were moved up by."""
    cases = batch.all_cases()
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.connect() as conn, hotpath.write_transaction(conn):
            if postgres:  # one batch at a time; nobody adds a case, instance or task meanwhile
                conn.execute(text("LOCK TABLE cases, process_instances, tasks "
                                  "IN SHARE ROW EXCLUSIVE MODE"))
            by = _largest_ids(conn)
            if cases:
                _write(conn, cases, by)
            if postgres and cases:  # explicit ids: the sequences move past them
                for table in ("cases", "process_instances", "tasks"):
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"))
    except IntegrityError as exc:
        reason = str(exc.orig).strip().splitlines()[0]
        raise ConflictError(f"The batch could not be written, and nothing of it was: "
                            f"{reason}") from None
    return by


class SqlCaseBatch:
    """One batch: its in-memory case store, and once written, the ids the database gave."""

    def __init__(self, cases: MemoryCaseRepository) -> None:
        self.cases = cases
        self.offsets: Offsets | None = None

    def stored_id(self, case_id: int) -> int:
        if self.offsets is None:
            raise NotFoundError("This batch has not been written: its cases have no id yet")
        return case_id + self.offsets.case


class SqlCaseBatches:
    """Batches of cases in memory, each written to ``engine`` in bulk when it ends well (the
    ``CaseBatches`` of :func:`carepath.service.simulation.simulate`). A batch ended by an
    exception writes nothing."""

    def __init__(self, engine: Engine, upn_holders: Callable[[str], list[str]] | None = None
                 ) -> None:
        self.engine = engine
        self.upn_holders = upn_holders

    @contextmanager
    def batch(self) -> Iterator[SqlCaseBatch]:
        found = SqlCaseBatch(MemoryCaseRepository(outside_upn_holders=self.upn_holders))
        yield found
        found.offsets = write_batch(self.engine, found.cases)
