"""The typed objects the application service gives every front end (CLI, web app, JSON API).

Nothing here is a dict of unknown shape: front ends read attributes, and ``as_json`` gives the
JSON form the CLI's ``--json`` and the API print (the shapes in ``docs/cli.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, TypeAlias

from carepath.engine.bpmn.diagram import WAITING_KINDS, Diagram
from carepath.engine.time.clock import today

# re-exported for front ends: the explanation of a due date is read as it is
from carepath.engine.time.explain import DueExplanation as DueExplanation
from carepath.engine.time.explain import SkippedDay as SkippedDay
from carepath.forms.schema import Form
from carepath.forms.validation import ValidationContext

JsonValue: TypeAlias = "str | int | float | bool | None | list[JsonValue] | dict[str, JsonValue]"
JsonObject: TypeAlias = "dict[str, JsonValue]"

# The roles a user may hold. Packs give tasks and actions to the first three by these names;
# an administrator manages users and packs (and sees no case for being one).
ROLES = ("social_worker", "team_manager", "conference_chair", "administrator")
# Pack roles a person may hold; the web app's users map onto these.
MANAGER_ROLES = frozenset({"team_manager"})


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``trusted`` is a local operator with the database in hand (the CLI, the
    story runner, the simulator, timers): they may complete any task, as they could by editing
    the database. Everyone else needs the task's role, and a task assigned to someone else is
    theirs only if they manage."""

    name: str
    roles: frozenset[str] = frozenset()
    trusted: bool = False
    teams: frozenset[str] = frozenset()

    @classmethod
    def operator(cls, name: str) -> Actor:
        return cls(name, trusted=True)

    def holds(self, role: str | None) -> bool:
        return self.trusted or role is None or role in self.roles

    @property
    def manages(self) -> bool:
        return self.trusted or bool(self.roles & MANAGER_ROLES)

    @property
    def administers(self) -> bool:
        """May manage users and look after packs (not: see cases)."""
        return self.trusted or "administrator" in self.roles


@dataclass(frozen=True)
class User:
    """A person who logs in to the web app or holds an API token."""

    name: str  # the login name, lowercase; the name tasks are assigned to
    display_name: str
    roles: frozenset[str]
    teams: frozenset[str]
    active: bool

    def actor(self) -> Actor:
        return Actor(self.name, self.roles, teams=self.teams)

    def as_json(self) -> JsonObject:
        return {"name": self.name, "display_name": self.display_name,
                "roles": list[JsonValue](sorted(self.roles)),
                "teams": list[JsonValue](sorted(self.teams)),
                "active": self.active}


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

    @property
    def due_this_week(self) -> bool:
        """Ready, not overdue, and due within the next 7 days (today included)."""
        if self.status != "ready" or self.due is None:
            return False
        now = today()
        return now <= self.due <= now + timedelta(days=7)

    def as_json(self) -> JsonObject:
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


@dataclass(frozen=True)
class TaskFilter:
    case_id: int | None = None
    overdue: bool = False
    status: str = "ready"
    assignee: str | None = None


@dataclass(frozen=True)
class InboxQuery:
    """One page of an inbox. ``mine``: ready tasks assigned to the actor; ``team``: ready
    tasks on the cases of the actor's teams that they may see, whoever holds them.
    ``stage`` is a process id, ``child`` an LA child ID or its beginning, ``worker`` the
    task's assignee."""

    scope: Literal["mine", "team"] = "mine"
    stage: str | None = None
    child: str | None = None
    worker: str | None = None
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class TaskPage:
    tasks: list[TaskView]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page)) if self.per_page > 0 else 1

    def as_json(self) -> JsonObject:
        return {"tasks": [{**t.as_json(), "due_this_week": t.due_this_week}
                          for t in self.tasks],
                "total": self.total, "page": self.page, "per_page": self.per_page,
                "pages": self.pages}


@dataclass(frozen=True)
class CaseSummary:
    case_id: int
    la_child_id: str
    pack: str
    worker: str | None
    team: str | None
    open_tasks: int

    def as_json(self) -> JsonObject:
        return {"case_id": self.case_id, "la_child_id": self.la_child_id, "pack": self.pack,
                "worker": self.worker, "team": self.team, "open_tasks": self.open_tasks}


@dataclass(frozen=True)
class CaseHead:
    """A case row: who holds it and the version a writer must have seen."""

    case_id: int
    la_child_id: str
    pack_name: str
    pack_version: str
    worker: str | None
    team: str | None
    version: int

    @property
    def pack(self) -> str:
        return f"{self.pack_name}@{self.pack_version}"


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a case's audit trail."""

    seq: int
    at: datetime
    actor: str
    kind: str
    payload: JsonObject

    def as_json(self) -> JsonObject:
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
                "kind": self.kind, **self.payload}


@dataclass(frozen=True)
class CaseView:
    """Everything ``case show`` gives: the record in the story format, open tasks, history."""

    case_id: int
    pack: str
    worker: str | None
    team: str | None
    version: int
    record: JsonObject
    open_tasks: list[TaskView]
    history: list[HistoryEntry]

    def as_json(self) -> JsonObject:
        return {
            "case_id": self.case_id,
            "pack": self.pack,
            "worker": self.worker,
            "team": self.team,
            "record": self.record,
            "open_tasks": [t.as_json() for t in self.open_tasks],
            "history": [h.as_json() for h in self.history],
        }


@dataclass(frozen=True)
class OpenedCase:
    case_id: int
    open_tasks: list[TaskView]

    def as_json(self) -> JsonObject:
        return {"case_id": self.case_id, "open_tasks": [t.as_json() for t in self.open_tasks]}


@dataclass(frozen=True)
class Completion:
    """A completed task and the tasks it opened."""

    task_id: int
    opened: list[TaskView]

    def as_json(self) -> JsonObject:
        return {"completed": self.task_id, "opened": [t.as_json() for t in self.opened]}


@dataclass(frozen=True)
class ActionView:
    """A pack action that may be taken on a case now."""

    name: str
    title: str
    role: str
    changes: str | None = None  # "worker" for a change of allocated worker, else None

    def as_json(self) -> JsonObject:
        return {"name": self.name, "title": self.title, "role": self.role}


@dataclass(frozen=True)
class ActionTaken:
    """An action taken on a case and the tasks it opened."""

    case_id: int
    action: str
    title: str
    opened: list[TaskView]

    def as_json(self) -> JsonObject:
        return {"completed": None, "case_id": self.case_id, "action": self.action,
                "title": self.title, "opened": [t.as_json() for t in self.opened]}


@dataclass(frozen=True)
class AuditProblem:
    case_id: int
    seq: int | None  # the event concerned (the first, for a run of missing events)
    problem: str
    # True for something that could not be checked (not a failure): e.g. a case whose first
    # events were written before they carried all the record replays
    note: bool = False

    def __str__(self) -> str:
        return f"case {self.case_id}: {self.problem}"


@dataclass(frozen=True)
class AuditReport:
    """The audit of one case or of every case: ``problems`` (events edited, inserted or
    deleted; record rows that differ from the events; an anchored head not found) and
    ``notes`` (what could not be checked)."""

    case_id: int | None
    problems: list[AuditProblem] = field(default_factory=list)
    notes: list[AuditProblem] = field(default_factory=list)
    cases: int = 0  # how many cases were checked

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_json(self) -> JsonObject:
        return {"intact": self.intact,
                "problems": [{"case_id": p.case_id, "event": p.seq, "problem": p.problem}
                             for p in self.problems],
                "notes": [{"case_id": p.case_id, "problem": p.problem} for p in self.notes]}


@dataclass(frozen=True)
class AuditAnchor:
    """Every case's audit chain head at one moment (``heads``: case id -> (seq, hash)), to be
    kept away from the database: a log rewritten since, hashes and all, no longer holds them.
    ``digest`` is sha256 over the heads (see ``carepath.service.audit.anchor_digest``)."""

    at: datetime
    heads: dict[int, tuple[int, str]]
    digest: str


@dataclass(frozen=True)
class ProcessMap:
    """One process instance of a case drawn as its BPMN diagram, with each element's state
    (``states``: node or flow id -> ``completed``, ``current`` or ``not_reached``).
    ``finished`` is True for an instance that has completed or was cancelled."""

    instance_id: int
    process_id: str
    title: str
    episode_seq: int
    status: str
    diagram: Diagram
    states: dict[str, str]
    finished: bool = False

    def state_of(self, element_id: str) -> str:
        return self.states.get(element_id, "not_reached")

    def current_steps(self) -> list[str]:
        """The names of the steps the instance is at now, in diagram order."""
        return [n.label or n.id for n in self.diagram.nodes
                if self.states.get(n.id) == "current"]

    def completed_steps(self) -> list[str]:
        """The names of the tasks, timers and called processes completed (not gateways or
        events)."""
        return [n.label or n.id for n in self.diagram.nodes
                if self.states.get(n.id) == "completed" and n.kind in WAITING_KINDS]

    def as_json(self) -> JsonObject:
        return {
            "instance_id": self.instance_id,
            "process": self.process_id,
            "title": self.title,
            "episode": self.episode_seq + 1,
            "status": self.status,
            "finished": self.finished,
            "layout": self.diagram.layout,
            "current": list(self.current_steps()),
            "completed": list(self.completed_steps()),
            "states": dict(self.states),
        }


@dataclass(frozen=True)
class TaskForm:
    """A task with what showing its form needs (``CaseService.task_form``)."""

    task: TaskView
    form: Form | None
    context: ValidationContext
    version: int  # the case version the answers are written against
    draft: dict[str, JsonValue] | None
    # the task met again (work returned by a manager): the answers given last time, and why
    # it came back
    previous: dict[str, JsonValue] | None = None
    returned_reason: str | None = None
