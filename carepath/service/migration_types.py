"""What moving running cases (:mod:`carepath.service.migration`) deals in: what its store gives
and takes (a case's work, the plan of a move, undo results; the ``MigrationStore`` protocol the
database adapter implements) and what a run reports (per case, per run, per pack version)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from carepath.core.errors import CarepathError
from carepath.engine.record.case_record import CaseRecord
from carepath.service.ports import CaseRepository
from carepath.service.types import CaseHead, JsonObject

# -- what the store gives and takes -------------------------------------------------------------


@dataclass(frozen=True)
class RunningInstance:
    instance_id: int
    process_id: str
    episode_seq: int
    pack_name: str
    pack_version: str
    state: str


@dataclass(frozen=True)
class OpenTask:
    task_id: int
    instance_id: int
    spiff_task_id: str
    bpmn_id: str
    title: str
    due: date | None
    assignee: str | None


@dataclass(frozen=True)
class CaseWork:
    """A case's running work as stored: what a move starts from."""

    head: CaseHead
    record: CaseRecord
    instances: list[RunningInstance]
    tasks: list[OpenTask]


@dataclass(frozen=True)
class NewTaskRow:
    spiff_task_id: str
    bpmn_id: str
    title: str
    form: str | None
    role: str | None
    assignee: str | None
    due: date | None


@dataclass(frozen=True)
class InstanceUpdate:
    """A running instance moved in place (strategy ``instance``)."""

    instance_id: int
    state: str
    pack_name: str
    pack_version: str
    next_timer_at: datetime | None


@dataclass(frozen=True)
class TaskUpdate:
    """A ready task still ready after the move: its row is kept, with the new version's
    details."""

    task_id: int
    bpmn_id: str
    title: str
    form: str | None
    role: str | None
    due: date | None


@dataclass(frozen=True)
class NewInstance:
    process_id: str
    episode_seq: int
    pack_name: str
    pack_version: str
    state: str
    next_timer_at: datetime | None
    tasks: list[NewTaskRow]
    existing: int | None = None  # add the tasks to this (moved) instance instead


@dataclass
class CasePlan:
    """Everything one case's move writes, in one transaction after the version check."""

    case_id: int
    seen_version: int
    strategy: str
    pack: tuple[str, str]
    updates: list[InstanceUpdate] = field(default_factory=list)
    task_updates: list[TaskUpdate] = field(default_factory=list)
    cancel_tasks: list[int] = field(default_factory=list)
    close_instances: list[int] = field(default_factory=list)  # closed as moved
    new_instances: list[NewInstance] = field(default_factory=list)
    event: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UndoResult:
    case_id: int
    undone: bool
    reason: str | None


class MigrationStore(Protocol):
    def running_counts(self) -> dict[tuple[str, str], int]:
        """(pack name, version) -> how many process instances run on it."""
        ...

    def pins(self) -> dict[str, str]:
        """Pack name -> the version pinned for new cases (unpinned packs left out)."""
        ...

    def pin(self, name: str, version: str | None, actor: str) -> None: ...

    def running_cases(self, pack_name: str | None, pack_version: str | None) -> list[int]:
        """Ids of the cases with a running instance (of that pack, and version if given)."""
        ...

    def running_cases_after(self, pack_name: str | None, pack_version: str | None,
                            after: int, limit: int) -> list[int]:
        """The same, one page: the first ``limit`` such ids above ``after``, in order."""
        ...

    def case_work(self, case_id: int) -> CaseWork: ...

    def start_run(self, run_id: str, target: str, actor: str) -> None: ...

    def apply(self, run_id: str, plan: CasePlan, actor: str) -> None:
        """Write the move (version check first), keep the case's state before for undo, and
        add a ``case.migrated`` event. ConflictError if the case changed."""
        ...

    def undo(self, run_id: str, actor: str) -> list[UndoResult]: ...


class ScratchCases(Protocol):
    def fresh(self) -> AbstractContextManager[CaseRepository]: ...


# -- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskLine:
    title: str
    due: date | None
    process: str
    task: str

    def as_json(self) -> JsonObject:
        return {"title": self.title, "due": self.due.isoformat() if self.due else None,
                "process": self.process, "task": self.task}


@dataclass
class CaseReport:
    case_id: int
    from_: str
    strategy: str
    status: str  # moved, would_move, refused, unchanged
    reason: str | None
    tasks_before: list[TaskLine]
    tasks_after: list[TaskLine]
    unrecorded: list[str] = field(default_factory=list)

    def as_json(self) -> JsonObject:
        return {"case_id": self.case_id, "from": self.from_, "strategy": self.strategy,
                "status": self.status, "reason": self.reason,
                "tasks_before": [t.as_json() for t in self.tasks_before],
                "tasks_after": [t.as_json() for t in self.tasks_after],
                "unrecorded": list(self.unrecorded)}


@dataclass
class MigrationReport:
    run_id: str | None
    to: str
    dry_run: bool
    cases: list[CaseReport]

    @property
    def moved(self) -> int:
        return sum(1 for c in self.cases if c.status in ("moved", "would_move"))

    @property
    def refused(self) -> int:
        return sum(1 for c in self.cases if c.status == "refused")

    def as_json(self) -> JsonObject:
        return {"run_id": self.run_id, "to": self.to, "dry_run": self.dry_run,
                "cases": [c.as_json() for c in self.cases], "moved": self.moved,
                "refused": self.refused}


@dataclass
class MigrationRun:
    """A run under way: ``cases`` moves each case as it is iterated (see
    :meth:`MigrationService.migrate_stream`)."""

    run_id: str | None
    to: str
    dry_run: bool
    cases: Iterator[CaseReport]


@dataclass(frozen=True)
class RunSpec:
    """A run begun (:meth:`MigrationService.begin_run`): what any process moving its cases
    needs. ``selection`` is (pack, version) for ``--from``/``--all``; None with ``case_ids``."""

    run_id: str | None
    to: str
    dry_run: bool
    actor: str
    case_ids: tuple[int, ...]
    selection: tuple[str | None, str | None] | None


@dataclass(frozen=True)
class PackVersionInfo:
    name: str
    version: str
    title: str
    source: str
    current: bool  # new cases use it
    pinned: bool
    running: int | None  # running instances (None: no database asked)

    def as_json(self) -> JsonObject:
        return {"name": self.name, "version": self.version, "title": self.title,
                "source": self.source, "current": self.current, "pinned": self.pinned,
                "running": self.running}


def parse_key(text: str, need_version: bool) -> tuple[str, str | None]:
    """``NAME@VERSION`` (or ``NAME``, unless ``need_version``) as (name, version)."""
    name, at, version = text.strip().partition("@")
    if not name or (at and not version):
        raise CarepathError(f"'{text}' is not a pack: write NAME@VERSION, like wt2023@1.1.0")
    if need_version and not version:
        raise CarepathError(f"'{text}' names no version: write NAME@VERSION, like "
                            "wt2023@1.1.0")
    return name, version or None
