"""Cases kept in memory: the case repository a story runs on when nothing needs to be kept
row by row as it goes.

``migrate``'s replays (the record told to another pack, only the work it leaves open is kept)
and ``carepath simulate`` (a batch of children, then written to the database in bulk by
:mod:`carepath.adapters.db.bulk_cases`) run the story runner on it. It keeps what the database
keeps for a case — the case row, the record, the process instances with their stored state, the
tasks and the events — and changes them as :func:`carepath.adapters.db.hotpath.persist_outcome`
changes the rows (the tests hold the two to the same result), without SQL. Events are kept
with their time and actor; the audit chain is worked out when they are written to a database.

It offers what casework by a trusted operator needs (open a case, read its work and record,
complete tasks, take actions, change the worker); what the web app needs on top (inbox, drafts,
the case file, access lists, timers) is refused with a clear error: those run on the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

from carepath.core.errors import ConflictError, NotFoundError, StorageError, TaskStateError
from carepath.engine.record.case_record import CaseRecord
from carepath.engine.runtime import LiveInstance
from carepath.engine.time.clock import current_clock, today
from carepath.service.cases import CHANGED
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

RUNNING, COMPLETED, CANCELLED = "running", "completed", "cancelled"
READY = "ready"


def _now() -> datetime:
    return current_clock().now().astimezone(UTC)


def _plain(value: Any) -> Any:
    """A payload as it reads back from the database's JSON (dates as ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass
class MemoryEvent:
    at: datetime
    actor: str
    kind: str
    payload: dict[str, Any]


@dataclass
class MemoryInstance:
    id: int
    case_id: int
    episode_seq: int
    process_id: str
    pack_name: str
    pack_version: str
    status: str
    state: str
    next_timer_at: datetime | None
    created_at: datetime
    completed_at: datetime | None = None


@dataclass
class MemoryTask:
    id: int
    case_id: int
    instance_id: int
    spiff_task_id: str
    bpmn_id: str
    title: str
    form: str | None
    role: str | None
    assignee: str | None
    due: date | None
    status: str
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None


@dataclass
class MemoryCase:
    id: int
    la_child_id: str
    pack_name: str
    pack_version: str
    worker: str | None
    team: str | None
    version: int
    created_at: datetime
    record: CaseRecord
    events: list[MemoryEvent] = field(default_factory=list)
    instances: list[MemoryInstance] = field(default_factory=list)
    tasks: list[MemoryTask] = field(default_factory=list)

    def head(self) -> CaseHead:
        return CaseHead(self.id, self.la_child_id, self.pack_name, self.pack_version,
                        self.worker, self.team, self.version)


class MemoryCaseRepository:
    """Cases in memory. Ids count from 1 in each store (a batch written to a database is
    given the database's next ids then, see ``bulk_cases``)."""

    def __init__(self, outside_upn_holders: Callable[[str], list[str]] | None = None) -> None:
        """``outside_upn_holders``: the children holding a UPN outside this store (the
        database a batch will be written to), for the DfE rule that no two share one."""
        self._outside_upn_holders = outside_upn_holders
        self._next_case = self._next_instance = self._next_task = 0
        self._cases: dict[int, MemoryCase] = {}
        self._by_child: dict[str, int] = {}
        self._instances: dict[int, MemoryInstance] = {}
        self._tasks: dict[int, MemoryTask] = {}

    # -- what a batch holds ----------------------------------------------------------------

    def all_cases(self) -> list[MemoryCase]:
        """Every case, in the order they were opened."""
        return [self._cases[i] for i in sorted(self._cases)]

    def _case(self, case_id: int) -> MemoryCase:
        found = self._cases.get(case_id)
        if found is None:
            raise NotFoundError(f"There is no case {case_id}")
        return found

    # -- cases -----------------------------------------------------------------------------

    def case_by_child(self, la_child_id: str) -> CaseHead | None:
        case_id = self._by_child.get(la_child_id)
        return self._cases[case_id].head() if case_id is not None else None

    def case_head(self, case_id: int) -> CaseHead:
        return self._case(case_id).head()

    def upn_holders(self, upn: str) -> list[str]:
        outside = self._outside_upn_holders(upn) if self._outside_upn_holders else []
        return outside + [c.la_child_id for c in self._cases.values()
                          if c.record.child.upn == upn]

    def record(self, head: CaseHead) -> CaseRecord:
        case = self._case(head.case_id)
        if case.version != head.version:
            raise ConflictError(CHANGED)
        return case.record

    def record_at(self, case_id: int, version: int) -> CaseRecord:
        return self._case(case_id).record

    def case_ids(self) -> list[int]:
        return sorted(self._cases)

    def cases(self) -> list[CaseSummary]:
        return [CaseSummary(c.id, c.la_child_id, f"{c.pack_name}@{c.pack_version}", c.worker,
                            c.team, sum(1 for t in c.tasks if t.status == READY))
                for c in self.all_cases()]

    def history(self, case_id: int) -> list[HistoryEntry]:
        return [HistoryEntry(seq, e.at, e.actor, e.kind, cast(JsonObject, _plain(e.payload)))
                for seq, e in enumerate(self._case(case_id).events, start=1)]

    def case_access(self, case_id: int) -> CaseAccess:
        case = self._case(case_id)
        return CaseAccess(case.id, case.team, case.worker, False, frozenset())

    def case_instances(self, case_id: int) -> list[CaseInstance]:
        return [CaseInstance(i.id, i.process_id, i.episode_seq, i.pack_name, i.pack_version,
                             i.status, i.state, i.next_timer_at)
                for i in self._case(case_id).instances]

    def instance_states(self) -> list[InstanceState]:
        return [InstanceState(i.process_id, i.state, i.episode_seq, i.id)
                for i in self._instances.values()]

    # -- tasks -----------------------------------------------------------------------------

    def _view(self, t: MemoryTask) -> TaskView:
        return TaskView(t.id, t.case_id, self._cases[t.case_id].la_child_id, t.title, t.form,
                        t.role, t.assignee, t.due, t.status,
                        self._instances[t.instance_id].process_id, t.bpmn_id, t.created_at)

    @staticmethod
    def _order(tasks: Iterable[MemoryTask]) -> list[MemoryTask]:
        return sorted(tasks, key=lambda t: (t.due is None, t.due or date.min, t.id))

    def _live(self, t: MemoryTask) -> LiveTask:
        case = self._cases[t.case_id]
        inst = self._instances[t.instance_id]
        return LiveTask(self._view(t), t.spiff_task_id, t.instance_id, inst.episode_seq,
                        inst.state, inst.pack_name, inst.pack_version, case.version, case.worker)

    def ready_work(self, case_id: int) -> list[LiveTask]:
        return [self._live(t) for t in self._order(
            t for t in self._case(case_id).tasks if t.status == READY)]

    def live_task(self, task_id: int) -> LiveTask:
        t = self._tasks.get(task_id)
        if t is None:
            raise NotFoundError(f"There is no task {task_id}")
        if t.status != READY:
            raise TaskStateError(f"Task {task_id} is already {t.status}")
        return self._live(t)

    def tasks(self, query: TaskFilter) -> list[TaskView]:
        found = [t for t in self._tasks.values() if t.status == query.status
                 and (query.case_id is None or t.case_id == query.case_id)
                 and (query.assignee is None or t.assignee == query.assignee)
                 and (not query.overdue or (t.due is not None and t.due < today()))]
        return [self._view(t) for t in self._order(found)]

    def task(self, task_id: int) -> TaskView:
        t = self._tasks.get(task_id)
        if t is None:
            raise NotFoundError(f"There is no task {task_id}")
        return self._view(t)

    def task_pack(self, task_id: int) -> tuple[str, str]:
        t = self._tasks.get(task_id)
        if t is None:
            raise NotFoundError(f"There is no task {task_id}")
        inst = self._instances[t.instance_id]
        return inst.pack_name, inst.pack_version

    # -- writing ---------------------------------------------------------------------------

    def write(self, change: CaseWrite) -> tuple[int, list[TaskView]]:
        now = _now()
        if change.case_id is None:
            new = change.new_case
            if new is None:
                raise ValueError("a new case needs its details")
            if new.la_child_id in self._by_child:
                raise ConflictError(CHANGED)
            self._next_case += 1
            case = MemoryCase(self._next_case, new.la_child_id, new.pack_name,
                              new.pack_version, new.worker, new.team, 0, now,
                              change.outcome.record)
            self._cases[case.id] = case
            self._by_child[case.la_child_id] = case.id
        else:
            case = self._case(change.case_id)
        if case.version != change.seen_version:
            raise ConflictError(CHANGED)
        opened = self._persist(case, change, now)
        if change.pack is not None:
            case.pack_name, case.pack_version = change.pack
        if change.worker:
            case.worker = change.worker
        if change.team:
            case.team = change.team
        return case.id, opened

    def _persist(self, case: MemoryCase, change: CaseWrite, now: datetime) -> list[TaskView]:
        """As ``hotpath.persist_outcome``: version, record, instances, tasks, episode work,
        events."""
        outcome = change.outcome
        case.version += 1
        case.record = outcome.record
        events: list[tuple[str, dict[str, Any]]] = []
        for kind, payload in outcome.events:
            if kind == "task.completed" and change.completed_task is not None:
                payload = {"task_id": change.completed_task, **payload}
            events.append((kind, dict(payload)))
        rows: dict[int, MemoryInstance] = {}
        for live in outcome.instances:
            rows[id(live)] = self._save_instance(case, live, now)
        new_tasks: list[MemoryTask] = []
        for new in outcome.opened:
            self._next_task += 1
            task = MemoryTask(self._next_task, case.id, rows[id(new.instance)].id, new.task.id,
                              new.task.bpmn_id, new.task.title, new.task.form, new.task.role,
                              new.assignee, new.due, READY, now)
            self._tasks[task.id] = task
            case.tasks.append(task)
            new_tasks.append(task)
        for live, spiff_id, status in outcome.closed:
            instance_id = rows[id(live)].id
            for task in case.tasks:
                if task.instance_id == instance_id and task.spiff_task_id == spiff_id \
                        and task.status == READY:
                    task.status = status
                    task.completed_at = now
                    task.completed_by = change.actor if status == COMPLETED else None
        if outcome.episode_closed:
            events.extend(self._cancel_episode_work(case, len(outcome.record.episodes) - 1,
                                                    rows.values(), now))
        case.events.extend(MemoryEvent(now, change.actor, kind, payload)
                           for kind, payload in events)
        return [self._view(t) for t in new_tasks]

    def _save_instance(self, case: MemoryCase, live: LiveInstance, now: datetime
                       ) -> MemoryInstance:
        running = live.status == RUNNING
        if live.db_id is None:
            self._next_instance += 1
            inst = MemoryInstance(self._next_instance, case.id, live.episode_seq,
                                  live.process_id, live.pack_name, live.pack_version,
                                  live.status, live.workflow.dump(),
                                  live.workflow.next_timer_at() if running else None, now,
                                  None if running else now)
            self._instances[inst.id] = inst
            case.instances.append(inst)
            live.db_id = inst.id
            return inst
        found = self._instances.get(live.db_id)
        if found is None:
            raise NotFoundError(f"process instance {live.db_id} is missing")
        if live.changed or not running:
            found.state = live.workflow.dump()
            found.status = live.status
            found.next_timer_at = live.workflow.next_timer_at() if running else None
            if live.status != RUNNING and found.completed_at is None:
                found.completed_at = now
        return found

    def _cancel_episode_work(self, case: MemoryCase, episode_seq: int,
                             touched: Iterable[MemoryInstance], now: datetime
                             ) -> list[tuple[str, dict[str, Any]]]:
        """As ``hotpath._cancel_episode_work``."""
        touched = list(touched)
        others = [i for i in case.instances
                  if i.episode_seq == episode_seq and i.status == RUNNING]
        stopping = {i.id for i in others} | {i.id for i in touched}
        cancelled = 0
        for task in case.tasks:
            if task.instance_id in stopping and task.status == READY:
                task.status, task.completed_at = CANCELLED, now
                cancelled += 1
        running: dict[int, str] = {i.id: i.process_id for i in others}
        for inst in touched:
            if inst.status == RUNNING and inst.id not in running:
                running[inst.id] = inst.process_id
        events: list[tuple[str, dict[str, Any]]] = []
        if running:
            for inst_id in running:
                inst = self._instances[inst_id]
                inst.status, inst.completed_at, inst.next_timer_at = CANCELLED, now, None
            events.extend(("process.cancelled", {"process": process, "reason": "episode closed"})
                          for process in running.values())
        if cancelled:
            events.append(("tasks.cancelled", {"count": cancelled, "reason": "episode closed"}))
        return events

    def change_worker(self, case_id: int, worker: str, actor: str,
                      seen_version: int) -> list[TaskView]:
        case = self._case(case_id)
        if case.version != seen_version:
            raise ConflictError(CHANGED)
        case.version += 1
        before = case.worker
        case.worker = worker
        moved = [t for t in sorted(case.tasks, key=lambda t: t.id)
                 if before is not None and t.status == READY and t.assignee == before]
        for task in moved:
            task.assignee = worker
        case.events.append(MemoryEvent(_now(), actor, "case.worker_changed", {
            "from": before, "to": worker,
            "tasks": [{"task_id": t.id, "title": t.title} for t in moved]}))
        return [self._view(t) for t in moved]

    def assign(self, task_id: int, assignee: str | None, actor: str,
               seen_version: int) -> TaskView:
        t = self._tasks.get(task_id)
        if t is None:
            raise NotFoundError(f"There is no task {task_id}")
        case = self._cases[t.case_id]
        if case.version != seen_version:
            raise ConflictError(CHANGED)
        if t.status != READY:
            raise TaskStateError(f"Task {task_id} is already {t.status}")
        case.version += 1
        before, t.assignee = t.assignee, assignee
        case.events.append(MemoryEvent(_now(), actor, "task.assigned", {
            "task_id": task_id, "title": t.title, "from": before, "to": assignee}))
        return self._view(t)

    # -- what only the database does -------------------------------------------------------

    @staticmethod
    def _refused(what: str) -> StorageError:
        return StorageError(f"{what} needs the database: the in-memory case store (story "
                            "replays, simulation batches) does not keep it")

    def fire_due_timers(self, until: datetime, fire: FireTimers, actor: str) -> int:
        raise self._refused("Firing timers")

    def set_access(self, case_id: int, actor: str, seen_version: int, *,
                   restricted: bool | None = None, names: frozenset[str] | None = None,
                   add: str | None = None) -> None:
        raise self._refused("Changing who may see a case")

    def record_view(self, case_id: int, actor: str) -> None:
        raise self._refused("Recording a view of a case")

    def open_case_file(self, case_id: int, actor: str, may_open: MayOpen, *,
                       maps: bool = True, audit: bool = True) -> CaseFileRead | None:
        raise self._refused("The case file")

    def inbox(self, scope: InboxScope, query: InboxQuery) -> tuple[list[TaskView], int]:
        raise self._refused("The inbox")

    def save_draft(self, task_id: int, user: str, values_json: str) -> None:
        raise self._refused("Saving a draft")

    def draft(self, task_id: int, user: str) -> str | None:
        return None


class MemoryScratch:
    """A fresh in-memory case store for each use (``migrate`` replays, ``pack test``
    scenarios): the ``ScratchCases`` the migration service and the ``ScratchDatabases`` the
    pack tests ask for."""

    @contextmanager
    def fresh(self) -> Iterator[MemoryCaseRepository]:
        yield MemoryCaseRepository()

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["MemoryCase", "MemoryCaseRepository", "MemoryEvent", "MemoryInstance",
           "MemoryScratch", "MemoryTask"]
