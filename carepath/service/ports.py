"""What the application service needs from the outside world, as protocols.

The adapters implement them (``carepath.adapters.db`` for storage, ``carepath.adapters.packs``
for packs); ``carepath.adapters.app`` plugs them in. The service never imports an adapter, so
the same use cases run behind the CLI, the web app, the API and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from carepath.engine.pack import Pack
from carepath.engine.record.case_record import CaseRecord
from carepath.engine.runtime import LiveInstance, Outcome, TaskRef
from carepath.returns import CaseData
from carepath.returns.annex_a_care import CareCase
from carepath.returns.ssda903 import LookedAfterChild
from carepath.service.types import (
    AuditProblem,
    CaseHead,
    CaseSummary,
    HistoryEntry,
    InboxQuery,
    TaskFilter,
    TaskView,
    User,
)


class PackCatalogue(Protocol):
    def get(self, name_or_path: str) -> Pack: ...

    def get_version(self, name: str, version: str) -> Pack: ...

    def names(self) -> list[str]: ...

    def origin(self, name: str) -> str: ...


@dataclass(frozen=True)
class LiveTask:
    """A ready task with what completing it needs: its process instance and its case."""

    view: TaskView
    spiff_task_id: str
    instance_id: int
    episode_seq: int
    state: str
    pack_name: str
    pack_version: str
    case_version: int
    case_worker: str | None

    @property
    def ref(self) -> TaskRef:
        return TaskRef(self.spiff_task_id, self.view.bpmn_id, self.view.form, self.view.id,
                       self.view.title)


@dataclass(frozen=True)
class NewCase:
    la_child_id: str
    pack_name: str
    pack_version: str
    worker: str | None
    team: str | None


@dataclass(frozen=True)
class CaseWrite:
    """An outcome worked out in memory, written in one transaction after the version check.

    ``case_id`` None with ``new_case`` set creates the case. ``holder`` changes the case's pack
    (name, version), worker and team (None keeps the current value)."""

    case_id: int | None
    seen_version: int
    before: CaseRecord | None
    outcome: Outcome
    actor: str
    completed_task: int | None = None
    new_case: NewCase | None = None
    pack: tuple[str, str] | None = None
    worker: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class TimerWork:
    """A process instance with a timer due, claimed for firing."""

    instance_id: int
    process_id: str
    episode_seq: int
    state: str
    pack_name: str
    pack_version: str
    case_worker: str | None


# Fires a claimed instance's timers: the outcome (no instances if nothing was due after all)
# and the live instance (for its next timer).
FireTimers = Callable[[TimerWork, CaseRecord], tuple[Outcome, LiveInstance]]


@dataclass(frozen=True)
class InstanceState:
    process_id: str
    state: str
    episode_seq: int
    instance_id: int


@dataclass(frozen=True)
class CaseAccess:
    """What deciding who may see a case needs: its team, allocated worker, whether it is
    restricted, and the people named on it (restricted to them, or granted it)."""

    case_id: int
    team: str | None
    worker: str | None
    restricted: bool
    names: frozenset[str]


@dataclass(frozen=True)
class InboxScope:
    """Who is asking for an inbox, as the repository filters it: ``viewer`` None is a trusted
    operator (every case visible); otherwise a case must be visible to ``viewer`` whose teams
    are ``teams``. ``assignee`` set: only tasks assigned to them; ``in_teams`` set: only tasks on
    cases of those teams."""

    viewer: str | None
    teams: frozenset[str]
    assignee: str | None = None
    in_teams: frozenset[str] | None = None


@dataclass(frozen=True)
class CaseInstance:
    """A process instance of a case, as stored (read-only views: the process map)."""

    instance_id: int
    process_id: str
    episode_seq: int
    pack_name: str
    pack_version: str
    status: str  # running, completed or cancelled
    state: str
    next_timer_at: datetime | None = None  # when its earliest waiting timer is due (UTC)


@dataclass(frozen=True)
class CaseFileRead:
    """A case as one person opens it, read together (:meth:`CaseRepository.open_case_file`):
    the case row and who may see it, the record, the ready tasks (with the episode of each
    one's process instance), the running process instances, every event (the view's own
    last) and, if asked for, the audit of its events and record tables as
    :meth:`AuditLog.verify` finds them (notes flagged) after the view was recorded."""

    head: CaseHead
    access: CaseAccess
    record: CaseRecord
    tasks: list[TaskView]
    task_episodes: dict[int, int]  # ready task id -> its process instance's episode
    instances: list[CaseInstance]
    history: list[HistoryEntry]
    audit: list[AuditProblem] | None


# Whether the person opening a case may see it (decided before anything else of it is read).
MayOpen = Callable[[CaseAccess], bool]


class CaseRepository(Protocol):
    def case_by_child(self, la_child_id: str) -> CaseHead | None: ...

    def case_head(self, case_id: int) -> CaseHead: ...

    def upn_holders(self, upn: str) -> list[str]:
        """The LA child IDs of the children recorded with ``upn``."""
        ...

    def record(self, head: CaseHead) -> CaseRecord:
        """The record at ``head.version``. Shared with a cache: never mutate it."""
        ...

    def live_task(self, task_id: int) -> LiveTask: ...

    def record_at(self, case_id: int, version: int) -> CaseRecord:
        """The record as of ``version`` (cached), else as stored now. Never mutate it."""
        ...

    def ready_work(self, case_id: int) -> list[LiveTask]: ...

    def write(self, change: CaseWrite) -> tuple[int, list[TaskView]]:
        """Write ``change``; returns the case id and the tasks it opened."""
        ...

    def assign(self, task_id: int, assignee: str | None, actor: str,
               seen_version: int) -> TaskView: ...

    def change_worker(self, case_id: int, worker: str, actor: str,
                      seen_version: int) -> list[TaskView]:
        """Make ``worker`` the case's allocated worker, moving its open tasks assigned to the
        old worker; audited. Returns the tasks moved."""
        ...

    def fire_due_timers(self, until: datetime, fire: FireTimers, actor: str) -> int: ...

    def tasks(self, query: TaskFilter) -> list[TaskView]: ...

    def task(self, task_id: int) -> TaskView: ...

    def task_pack(self, task_id: int) -> tuple[str, str]: ...

    def cases(self) -> list[CaseSummary]: ...

    def case_ids(self) -> list[int]: ...

    def history(self, case_id: int) -> list[HistoryEntry]: ...

    def instance_states(self) -> list[InstanceState]: ...

    # -- access, views, inbox, drafts --------------------------------------------------------

    def case_access(self, case_id: int) -> CaseAccess:
        """NotFoundError if there is no such case."""
        ...

    def set_access(self, case_id: int, actor: str, seen_version: int, *,
                   restricted: bool | None = None, names: frozenset[str] | None = None,
                   add: str | None = None) -> None:
        """Change who may see the case, as one audited case event (the version moves):
        ``restricted`` set it; ``names`` replaces the names on the case; ``add`` adds one.
        NotFoundError for a name that is no user."""
        ...

    def record_view(self, case_id: int, actor: str) -> None:
        """A ``case.viewed`` event in the case's audit chain; the version does not move."""
        ...

    def open_case_file(self, case_id: int, actor: str, may_open: MayOpen, *,
                       maps: bool = True, audit: bool = True) -> CaseFileRead | None:
        """The case as ``actor`` opens it, if ``may_open`` allows (else None, and nothing is
        recorded; NotFoundError if there is no such case): the view recorded
        (``case.viewed``, as :meth:`record_view`) and everything read with it, consistent
        with the case row. ``maps`` False: no process instances; ``audit`` False: no audit."""
        ...

    def inbox(self, scope: InboxScope, query: InboxQuery) -> tuple[list[TaskView], int]:
        """One page of ready tasks (due date, no date last, then id) and how many in all."""
        ...

    def save_draft(self, task_id: int, user: str, values_json: str) -> None: ...

    def draft(self, task_id: int, user: str) -> str | None: ...

    def case_instances(self, case_id: int) -> list[CaseInstance]:
        """The case's process instances, oldest first."""
        ...


class CaseBatch(Protocol):
    """New cases worked out in memory (``cases``), written to the database together."""

    @property
    def cases(self) -> CaseRepository: ...

    def stored_id(self, case_id: int) -> int:
        """Once the batch is written: the database's id of the batch's case ``case_id``."""
        ...


class CaseBatches(Protocol):
    def batch(self) -> AbstractContextManager[CaseBatch]:
        """A batch: written to the database, in one go, when the block ends without an
        exception (nothing of it otherwise)."""
        ...


class AuditLog(Protocol):
    def verify(self, case_id: int | None,
               anchor: Mapping[int, tuple[int, str]] | None = None) -> list[AuditProblem]:
        """Problems (and notes, flagged) in the chain of one case or of every case, in its
        record tables against its events, and against the anchored heads if given."""
        ...

    def heads(self) -> tuple[datetime, list[tuple[int, int, str]]]:
        """Now, and every case's (id, event seq, head hash) on one snapshot."""
        ...


class CaseSnapshot(Protocol):
    def count(self) -> int: ...

    def cases(self) -> Iterator[CaseData]: ...

    def count_looked_after(self) -> int: ...

    def looked_after(self) -> Iterator[LookedAfterChild]:
        """Every child with a looked-after record (details and that record only)."""
        ...

    def care_cases(self) -> Iterator[CareCase]:
        """As :meth:`looked_after`, with the team and worker who hold each case."""
        ...


class CaseSource(Protocol):
    def snapshot(self) -> AbstractContextManager[CaseSnapshot]:
        """A read-only view of every case, consistent for the whole return."""
        ...


class PeopleRepository(Protocol):
    def add_user(self, user: User, password_hash: str) -> User:
        """ConflictError if the name is taken."""
        ...

    def users(self) -> list[User]: ...

    def user(self, name: str) -> User | None: ...

    def password_hash(self, name: str) -> str | None: ...

    def teams(self) -> list[str]: ...

    def update_user(self, name: str, *, roles: frozenset[str] | None = None,
                    teams: frozenset[str] | None = None, active: bool | None = None,
                    password_hash: str | None = None) -> User:
        """NotFoundError if there is no such user."""
        ...

    def add_failure(self, name: str, source: str, at: datetime, forget_before: datetime
                    ) -> None:
        """Note a failed login (and forget those older than ``forget_before``)."""
        ...

    def failures(self, name: str, source: str, since: datetime
                 ) -> tuple[list[datetime], list[datetime]]:
        """The times of failed logins since ``since``: for ``name``, and from ``source``."""
        ...

    def clear_failures(self, name: str) -> None: ...

    def add_token(self, name: str, token_hash: str, at: datetime) -> None: ...

    def user_for_token(self, token_hash: str) -> User | None:
        """The user holding this unrevoked token, or None."""
        ...

    def revoke_tokens(self, name: str, at: datetime) -> int: ...
