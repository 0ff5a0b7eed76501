"""Casework use cases: open a case, list, claim and complete tasks, views of a case, timers.

Every front end (CLI, web app, JSON API, story runner) goes through :class:`CaseService`. The
outcome of a change is worked out in memory from what was read, then written in one transaction
whose first statement is the version check: of two people changing a case at once, exactly one
wins and the other is told the case changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, cast

from carepath.core.errors import (
    CarepathError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    TaskStateError,
)
from carepath.core.upn import duplicate_upn_problem
from carepath.engine.bpmn.diagram import Diagram, element_states, parse_diagram
from carepath.engine.intake import check_child, check_referral, intake_form
from carepath.engine.pack import Pack
from carepath.engine.record.case_record import CaseRecord, record_context, record_to_story
from carepath.engine.runtime import CaseRuntime, LiveInstance, Outcome
from carepath.engine.time.clock import FixedClock, today, use_clock
from carepath.engine.time.explain import DueExplanation, explain_due, with_stored_due
from carepath.forms.schema import Form
from carepath.forms.validation import FieldError, FormErrors, ValidationContext
from carepath.service.access import inbox_scope, may_change_access, may_see
from carepath.service.case_file import CasePage
from carepath.service.chronology import ChronologyEntry, chronology
from carepath.service.ports import (
    CaseAccess,
    CaseFileRead,
    CaseInstance,
    CaseRepository,
    CaseWrite,
    LiveTask,
    NewCase,
    PackCatalogue,
    TimerWork,
)
from carepath.service.types import (
    ActionTaken,
    ActionView,
    Actor,
    AuditReport,
    CaseHead,
    CaseSummary,
    CaseView,
    Completion,
    HistoryEntry,
    InboxQuery,
    JsonObject,
    JsonValue,
    OpenedCase,
    ProcessMap,
    TaskFilter,
    TaskForm,
    TaskPage,
    TaskView,
)

CHANGED = ("This case changed since you opened it. Nothing was saved: open it again and redo "
           "your change.")
MAX_PER_PAGE = 100
MAX_DRAFT_CHARS = 500_000


def _iso(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_iso(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _iso(v) for k, v in value.items()}
    return value


class CaseService:
    def __init__(self, cases: CaseRepository, packs: PackCatalogue) -> None:
        self.cases = cases
        self.packs = packs
        self._runtimes: dict[tuple[str, str], CaseRuntime] = {}
        # (pack, version, process id) -> its parsed diagram (a pack version never changes)
        self._diagrams: dict[tuple[str, str, str], Diagram] = {}
        self._titles: dict[tuple[str, str] | None, dict[str, str]] = {}

    def runtime(self, pack_name: str, pack_version: str) -> CaseRuntime:
        key = (pack_name, pack_version)
        runtime = self._runtimes.get(key)
        if runtime is None:
            runtime = CaseRuntime(self.packs.get_version(pack_name, pack_version))
            self._runtimes[key] = runtime
        return runtime

    # -- writing -------------------------------------------------------------------------

    def open_case(self, pack_name: str, child: Mapping[str, Any], referral: Mapping[str, Any],
                  actor: Actor, worker: str | None = None,
                  team: str | None = None, version: str | None = None) -> OpenedCase:
        """Record a referral: a new case, or a new episode for a child already known. A new
        case starts on the pack's current version, or on ``version`` if given (the story runner
        runs a story on the exact pack it was given)."""
        pack = self.packs.get(pack_name) if version is None else \
            self.packs.get_version(pack_name, version)
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
        self._check_upn_unique(child_value.upn, child_value.la_child_id, "child.upn")
        head = self.cases.case_by_child(child_value.la_child_id)
        runtime = self.runtime(pack.name, pack.version)
        if head is None:
            outcome = runtime.open_episode(None, child_value, referral_value, worker)
            change = CaseWrite(None, 0, None, outcome, actor.name,
                               new_case=NewCase(child_value.la_child_id, pack.name, pack.version,
                                                worker, team))
        else:
            if not actor.trusted and not may_see(actor, self.cases.case_access(head.case_id)):
                # never write to (nor say which) case someone may not see
                raise PermissionDeniedError(
                    "This child already has a case you may not see: ask the team that holds "
                    "it to record the referral")
            before = self.cases.record(head)
            outcome = runtime.open_episode(before, child_value, referral_value,
                                           worker or head.worker)
            change = CaseWrite(head.case_id, head.version, before, outcome, actor.name,
                               pack=(pack.name, pack.version), worker=worker, team=team)
        # the allocation the case row takes, in the referral's event (an audit replays it)
        outcome.events[0][1].update(
            {"worker": worker, "team": team} if head is None
            else {k: v for k, v in (("worker", worker), ("team", team)) if v})
        case_id, opened = self.cases.write(change)
        return OpenedCase(case_id, opened)

    def complete_task(self, task_id: int, values: Mapping[str, Any], actor: Actor,
                      expected_version: int | None = None) -> Completion:
        """Complete a task as ``actor``, who must hold its role (and, if it is assigned to
        someone else, manage). ``expected_version`` is the case version the user saw."""
        live = self.cases.live_task(task_id)
        self._check_sees(live.view.case_id, actor)
        self._may_complete(live.view, actor)
        if expected_version is not None and expected_version != live.case_version:
            raise ConflictError(CHANGED)
        record = self.cases.record_at(live.view.case_id, live.case_version)
        outcome = self.completion_outcome(live, record, values)
        if outcome.record.child.upn != record.child.upn:
            self._check_upn_unique(outcome.record.child.upn, record.child.la_child_id, "upn")
        _, opened = self.cases.write(CaseWrite(live.view.case_id, live.case_version, record,
                                               outcome, actor.name, completed_task=task_id))
        return Completion(task_id, opened)

    def completion_outcome(self, live: LiveTask, record: CaseRecord,
                           values: Mapping[str, Any]) -> Outcome:
        """What completing ``live`` with ``values`` does, worked out in memory only."""
        runtime = self.runtime(live.pack_name, live.pack_version)
        instance = runtime.restore(live.view.process, live.state, live.episode_seq,
                                   live.instance_id)
        return runtime.complete(record, instance, live.ref, values, live.case_worker)

    def write_outcome(self, case_id: int, seen_version: int, before: CaseRecord,
                      outcome: Outcome, actor: Actor, task_id: int | None = None
                      ) -> list[TaskView]:
        """Write an outcome worked out in memory (the story runner does), exactly as a
        completion is written: one transaction, version check first."""
        _, opened = self.cases.write(CaseWrite(case_id, seen_version, before, outcome,
                                               actor.name, completed_task=task_id))
        return opened

    def _check_upn_unique(self, upn: str | None, la_child_id: str, field: str) -> None:
        """DfE rule 1520: no two children share a UPN."""
        if not upn:
            return
        problem = duplicate_upn_problem(upn, la_child_id, self.cases.upn_holders(upn))
        if problem:
            raise FormErrors([FieldError(field, problem)])

    @staticmethod
    def _may_complete(task: TaskView, actor: Actor) -> None:
        if task.status != "ready":
            raise TaskStateError(f"Task {task.id} is already {task.status}")
        if not actor.holds(task.role):
            raise PermissionDeniedError(
                f"Task {task.id} is for the role '{task.role}', which {actor.name} does not "
                "hold")
        if task.assignee and task.assignee != actor.name and not actor.manages:
            raise PermissionDeniedError(
                f"Task {task.id} is assigned to {task.assignee}: ask them or a manager")

    # -- who may see a case ----------------------------------------------------------------

    def may_see(self, case_id: int, actor: Actor) -> bool:
        """Whether ``actor`` may see the case (False for a case that does not exist)."""
        try:
            access = self.cases.case_access(case_id)
        except NotFoundError:
            return False
        return may_see(actor, access)

    def _check_sees(self, case_id: int, actor: Actor) -> None:
        if actor.trusted:
            return
        if not may_see(actor, self.cases.case_access(case_id)):
            raise PermissionDeniedError(
                f"{actor.name} may not see case {case_id}: it is not one of their team's "
                "cases, nor theirs, nor shared with them")

    def view_case(self, case_id: int, actor: Actor) -> CaseView:
        """The case as ``actor`` opens it: the view is an event in the case's audit trail
        (``case.viewed``; the version does not move). A case the actor may not see is
        NotFoundError, as one that does not exist."""
        read = self._open(case_id, actor, maps=False, audit=False)
        return self._view(read.head, read.record, read.tasks, read.history)

    def case_page(self, case_id: int, actor: Actor, show: str | None = None) -> CasePage:
        """Everything a front end shows when ``actor`` opens a case: the view (recorded, as
        :meth:`view_case`), the actions they may take, the running processes drawn, the
        chronology (``show`` as :meth:`chronology`) and the audit check of its events and
        record tables (as ``AuditService.verify_case``), from one read of the case. A case the
        actor may not see is NotFoundError, as one that does not exist."""
        read = self._open(case_id, actor, maps=True, audit=True)
        head, record = read.head, read.record
        current = len(record.episodes) - 1  # processes with ready work on it (``_running``)
        running = {t.process for t in read.tasks if read.task_episodes.get(t.id) == current}
        found = read.audit or []
        return CasePage(
            self._view(head, record, read.tasks, read.history),
            self._offered(head, record, running, actor),
            self._maps(case_id, read.instances, False),
            chronology(read.history, self.process_titles(head), show),
            AuditReport(case_id, [p for p in found if not p.note],
                        [p for p in found if p.note]))

    def _open(self, case_id: int, actor: Actor, *, maps: bool, audit: bool) -> CaseFileRead:
        def allowed(access: CaseAccess) -> bool:
            return may_see(actor, access)

        try:
            read = self.cases.open_case_file(case_id, actor.name, allowed, maps=maps,
                                             audit=audit)
        except NotFoundError:
            read = None
        if read is None:
            raise NotFoundError(f"There is no case {case_id}")
        return read

    def _change_access(self, case_id: int, actor: Actor) -> int:
        """The case's version, if ``actor`` may change who sees the case."""
        head = self.cases.case_head(case_id)
        if not may_change_access(actor, self.cases.case_access(case_id)):
            raise PermissionDeniedError(
                "Only a team manager of the case's team (who may see it) can change who may "
                "see a case")
        return head.version

    def restrict(self, case_id: int, names: Iterable[str], actor: Actor) -> None:
        """Only the people ``names`` (and trusted operators) may see the case from now on."""
        chosen = frozenset(n.strip() for n in names if n.strip())
        if not chosen:
            raise FormErrors([FieldError("names", "Name at least one person who may see the "
                                                  "restricted case")])
        version = self._change_access(case_id, actor)
        self.cases.set_access(case_id, actor.name, version, restricted=True, names=chosen)

    def unrestrict(self, case_id: int, actor: Actor) -> None:
        """The case is seen as any other again (by its team, its worker, those named on it)."""
        version = self._change_access(case_id, actor)
        self.cases.set_access(case_id, actor.name, version, restricted=False)

    def grant(self, case_id: int, name: str, actor: Actor) -> None:
        """``name`` may see the case (a restricted one too) from now on."""
        name = (name or "").strip()
        if not name:
            raise FormErrors([FieldError("name", "Enter the login name of the person")])
        version = self._change_access(case_id, actor)
        self.cases.set_access(case_id, actor.name, version, add=name)

    def find_case(self, la_child_id: str, actor: Actor) -> CaseHead:
        """The case of the child with this LA child ID, if ``actor`` may see it (NotFoundError
        otherwise, as for a child not known)."""
        head = self.cases.case_by_child(la_child_id.strip())
        if head is None or not self.may_see(head.case_id, actor):
            raise NotFoundError(f"No case you can see has the LA child ID '{la_child_id}'")
        return head

    def task_form(self, task_id: int, actor: Actor) -> TaskForm:
        """What a front end needs to show a task's form: the task, its form, the validation
        context (the record ``show_if`` reads, as completing it will), the case version to
        send back, and ``actor``'s draft. NotFoundError for a task on a case ``actor`` may not
        see."""
        task = self.cases.task(task_id)
        if not self.may_see(task.case_id, actor):
            raise NotFoundError(f"There is no task {task_id}")
        head = self.cases.case_head(task.case_id)
        record = self.cases.record(head)
        pack = self.packs.get_version(head.pack_name, head.pack_version)
        form = pack.form(task.form) if task.form else None
        episode = record.episodes[-1] if record.episodes else None
        ctx = ValidationContext(today=today(),
                                referral_date=episode.referral_date if episode else None,
                                names=record_context(record))
        draft = None
        previous: dict[str, JsonValue] | None = None
        returned: str | None = None
        if task.status == "ready" and actor.holds(task.role):
            draft = self.draft(task_id, actor)
            previous, returned = self._earlier_answers(task, form)
        return TaskForm(task, form, ctx, head.version, draft, previous, returned)

    def _earlier_answers(self, task: TaskView, form: Form | None
                         ) -> tuple[dict[str, JsonValue] | None, str | None]:
        """For a task met again in the same run of its process (a manager returned the work):
        the answers given last time, and the reason given for sending it back (a later task's
        ``return_reason``)."""
        if form is None:
            return None, None
        events = self.cases.history(task.case_id)
        started = max((i for i, e in enumerate(events) if e.kind == "process.started"
                       and e.payload.get("process") == task.process), default=-1)
        last: tuple[int, dict[str, JsonValue]] | None = None
        for i, e in enumerate(events[started + 1:], start=started + 1):
            values = e.payload.get("values")
            if e.kind == "task.completed" and e.payload.get("task") == task.bpmn_id \
                    and e.payload.get("process") == task.process and isinstance(values, dict):
                last = (i, values)
        if last is None:
            return None, None
        names = {f.name for f in form.fields}
        answers = {k: v for k, v in last[1].items() if k in names and v is not None}
        reason: str | None = None
        for e in events[last[0] + 1:]:
            values = e.payload.get("values")
            given = values.get("return_reason") if isinstance(values, dict) else None
            if e.kind == "task.completed" and isinstance(given, str):
                reason = given
        return (cast(dict[str, JsonValue], answers) or None), reason

    @staticmethod
    def intake_forms() -> tuple[Form, Form]:
        """The engine's own child and referral forms (a new referral)."""
        return intake_form("child"), intake_form("referral")

    @staticmethod
    def intake_context() -> ValidationContext:
        return ValidationContext(today=today())

    def chronology(self, case_id: int, actor: Actor,
                   show: str | None = None) -> list[ChronologyEntry]:
        """The case's events in words, newest first (see :mod:`carepath.service.chronology`)."""
        self._check_sees(case_id, actor)
        head = self.cases.case_head(case_id)
        return chronology(self.cases.history(case_id), self.process_titles(head), show)

    def process_titles(self, head: CaseHead | None = None) -> dict[str, str]:
        """Process id -> title, for the case's pack (or every installed pack)."""
        key = (head.pack_name, head.pack_version) if head is not None else None
        known = self._titles.get(key)
        if known is None:
            known = self._titles[key] = self._process_titles(head)
        return dict(known)

    def _process_titles(self, head: CaseHead | None) -> dict[str, str]:
        if head is not None:
            packs = [self.packs.get_version(head.pack_name, head.pack_version)]
        else:
            packs = [self.packs.get(n) for n in self.packs.names()]
        found: dict[str, list[str]] = {}
        for pack in packs:
            for pid in pack.bpmn:
                title = pack.specs(pid).title
                if title not in found.setdefault(pid, []):
                    found[pid].append(title)
        # packs may give one process id different titles: show them all
        return {pid: " / ".join(t) for pid, t in found.items()}

    # -- the inbox and drafts --------------------------------------------------------------

    def inbox(self, query: InboxQuery, actor: Actor) -> TaskPage:
        """One page of ready tasks, soonest due first (no due date last), then by id."""
        if query.scope not in ("mine", "team"):
            raise FormErrors([FieldError("scope", "Choose 'mine' or 'team'")])
        if query.page < 1:
            raise FormErrors([FieldError("page", "The page number starts at 1")])
        if not 1 <= query.per_page <= MAX_PER_PAGE:
            raise FormErrors([FieldError("per_page",
                                         f"Show 1 to {MAX_PER_PAGE} tasks a page")])
        tasks, total = self.cases.inbox(inbox_scope(actor, query), query)
        return TaskPage(tasks, total, query.page, query.per_page)

    def _draft_task(self, task_id: int, actor: Actor) -> TaskView:
        task = self.cases.task(task_id)
        self._check_sees(task.case_id, actor)
        if not actor.holds(task.role):
            raise PermissionDeniedError(
                f"Task {task_id} is for the role '{task.role}', which {actor.name} does not "
                "hold")
        return task

    def save_draft(self, task_id: int, values: Mapping[str, JsonValue], actor: Actor) -> None:
        """Keep ``actor``'s answers to a ready task to come back to (one draft per task and
        person, replaced by the next save, gone when the task is completed)."""
        task = self._draft_task(task_id, actor)
        if task.status != "ready":
            raise TaskStateError(f"Task {task_id} is already {task.status}")
        try:
            text = json.dumps(_iso(dict(values)), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):
            raise FormErrors([FieldError("draft", "A draft holds only text, numbers, dates, "
                                                  "yes/no, lists and groups of answers")]
                             ) from None
        if len(text) > MAX_DRAFT_CHARS:
            raise FormErrors([FieldError("draft", "This draft is too long to keep")])
        self.cases.save_draft(task_id, actor.name, text)

    def draft(self, task_id: int, actor: Actor) -> dict[str, JsonValue] | None:
        """``actor``'s draft answers to the task, or None (none kept, or the task is done)."""
        task = self._draft_task(task_id, actor)
        if task.status != "ready":
            return None
        text = self.cases.draft(task_id, actor.name)
        if text is None:
            return None
        return cast(dict[str, JsonValue], json.loads(text))

    # -- actions -------------------------------------------------------------------------

    def _running(self, head: CaseHead, record: CaseRecord) -> set[str]:
        """Processes with ready work on the case's current episode."""
        current = len(record.episodes) - 1
        return {w.view.process for w in self.cases.ready_work(head.case_id)
                if w.episode_seq == current}

    def actions(self, case_id: int, actor: Actor) -> list[ActionView]:
        """The pack's actions ``actor`` may take on the case now."""
        head = self.cases.case_head(case_id)
        record = self.cases.record(head)
        return self._offered(head, record, self._running(head, record), actor)

    def _offered(self, head: CaseHead, record: CaseRecord, running: set[str],
                 actor: Actor) -> list[ActionView]:
        runtime = self.runtime(head.pack_name, head.pack_version)
        return [ActionView(a.name, a.title, a.role, a.change)
                for a in runtime.available_actions(record, running) if actor.holds(a.role)]

    def act(self, case_id: int, action: str, actor: Actor,
            data: Mapping[str, Any] | None = None,
            expected_version: int | None = None) -> ActionTaken:
        """Take a pack action: start its process on the current episode, in one transaction
        after the version check, as a task completion is written."""
        head = self.cases.case_head(case_id)
        self._check_sees(head.case_id, actor)
        if expected_version is not None and expected_version != head.version:
            raise ConflictError(CHANGED)
        runtime = self.runtime(head.pack_name, head.pack_version)
        found = runtime.action(action)
        if not actor.holds(found.role):
            raise PermissionDeniedError(
                f"The action '{found.title}' is for the role '{found.role}', which "
                f"{actor.name} does not hold")
        record = self.cases.record(head)
        if found.change == "worker":
            runtime.check_available(found, record, self._running(head, record))
            worker = (data or {}).get("worker")
            unknown = sorted(set(data or {}) - {"worker"})
            if unknown or not isinstance(worker, str) or not worker.strip():
                raise FormErrors([FieldError(
                    "worker", "Enter the name of the new allocated worker (the only answer "
                    "this action takes: 'worker')")])
            moved = self.cases.change_worker(head.case_id, worker.strip(), actor.name,
                                             head.version)
            return ActionTaken(head.case_id, found.name, found.title, moved)
        outcome = runtime.take_action(record, action, head.worker,
                                      self._running(head, record), data or None)
        _, opened = self.cases.write(CaseWrite(head.case_id, head.version, record, outcome,
                                               actor.name))
        return ActionTaken(head.case_id, found.name, found.title,
                           [t for t in opened if t.status == "ready"])

    def claim_task(self, task_id: int, actor: Actor) -> TaskView:
        """Take a team task: it becomes the actor's."""
        task = self.cases.task(task_id)
        self._check_sees(task.case_id, actor)
        if task.status != "ready":
            raise TaskStateError(f"Task {task_id} is already {task.status}")
        if not actor.holds(task.role):
            raise PermissionDeniedError(
                f"Task {task_id} is for the role '{task.role}', which {actor.name} does not "
                "hold")
        if task.assignee == actor.name:
            return task
        if task.assignee and not actor.manages:
            raise PermissionDeniedError(f"Task {task_id} is already {task.assignee}'s")
        head = self.cases.case_head(task.case_id)
        return self.cases.assign(task_id, actor.name, actor.name, head.version)

    def assign_task(self, task_id: int, assignee: str | None, actor: Actor) -> TaskView:
        """A manager gives a task to someone (or back to the team, with None)."""
        if not actor.manages:
            raise PermissionDeniedError("Only a manager can assign tasks to others")
        task = self.cases.task(task_id)
        self._check_sees(task.case_id, actor)
        if task.status != "ready":
            raise TaskStateError(f"Task {task_id} is already {task.status}")
        head = self.cases.case_head(task.case_id)
        return self.cases.assign(task_id, assignee, actor.name, head.version)

    def change_worker(self, case_id: int, worker: str, actor: Actor,
                      expected_version: int | None = None) -> list[TaskView]:
        """A manager changes the case's allocated worker (on the case row, not the statutory
        record): tasks opened from now on for roles assigned to the case worker go to
        ``worker``, and the open tasks assigned to the old worker move to ``worker`` now. One
        audited event (``case.worker_changed``) records the change and the tasks moved."""
        if not actor.manages:
            raise PermissionDeniedError("Only a manager can change the allocated worker")
        worker = (worker or "").strip()
        if not worker:
            raise FormErrors([FieldError("worker", "Enter the name of the new allocated worker")])
        head = self.cases.case_head(case_id)
        self._check_sees(head.case_id, actor)
        if expected_version is not None and expected_version != head.version:
            raise ConflictError(CHANGED)
        return self.cases.change_worker(head.case_id, worker, actor.name, head.version)

    def run_timers(self, until: datetime, actor: Actor) -> int:
        """Fire every timer due by ``until``, with the clock at ``until``; one transaction per
        instance. Returns how many instances moved."""
        moment = until.astimezone(UTC)

        def fire(work: TimerWork, record: CaseRecord) -> tuple[Outcome, LiveInstance]:
            runtime = self.runtime(work.pack_name, work.pack_version)
            live = runtime.restore(work.process_id, work.state, work.episode_seq,
                                   work.instance_id)
            return runtime.fire_timers(record, live, work.case_worker), live

        with use_clock(FixedClock(moment)):
            return self.cases.fire_due_timers(moment, fire, actor.name)

    # -- reading -------------------------------------------------------------------------

    def case_ids(self) -> list[int]:
        return self.cases.case_ids()

    def list_cases(self) -> list[CaseSummary]:
        return self.cases.cases()

    def tasks(self, query: TaskFilter | None = None) -> list[TaskView]:
        return self.cases.tasks(query or TaskFilter())

    def task(self, task_id: int) -> TaskView:
        return self.cases.task(task_id)

    def task_pack(self, task_id: int) -> Pack:
        name, version = self.cases.task_pack(task_id)
        return self.packs.get_version(name, version)

    def head(self, case_id: int) -> CaseHead:
        return self.cases.case_head(case_id)

    def record(self, case_id: int) -> CaseRecord:
        """The case's record (shared with the cache: read it, never change it)."""
        return self.cases.record(self.cases.case_head(case_id))

    def history(self, case_id: int) -> list[HistoryEntry]:
        self.cases.case_head(case_id)  # NotFoundError for a case that does not exist
        return self.cases.history(case_id)

    def case_view(self, case_id: int) -> CaseView:
        head = self.cases.case_head(case_id)
        return self._view(head, self.cases.record(head),
                          self.cases.tasks(TaskFilter(case_id=case_id)),
                          self.cases.history(case_id))

    def _view(self, head: CaseHead, record: CaseRecord, tasks: list[TaskView],
              history: list[HistoryEntry]) -> CaseView:
        try:
            calendar = self.packs.get(head.pack_name).timescales.calendar
        except CarepathError:  # a pack no longer installed: dates without working days
            calendar = None
        story = cast(JsonObject, _iso(record_to_story(record, calendar, computed=True)))
        return CaseView(head.case_id, head.pack, head.worker, head.team, head.version, story,
                        tasks, history)

    def explain_due(self, task_id: int) -> DueExplanation | None:
        """Why the task is due when it is: its timescale's rule in words, the date it counts
        from and where that came from, the days skipped. None if the task has no timescale.
        Worked out again from the record as it is now; the note says if that differs from the
        due date the task was given when it opened."""
        view = self.cases.task(task_id)
        pack = self.task_pack(task_id)
        try:
            info = pack.task_info(view.process, view.bpmn_id)
        except CarepathError:
            info = None
        if info is None or not info.due:
            return None
        record = self.cases.record(self.cases.case_head(view.case_id))
        context = record_context(record, pack.timescales.calendar)
        return with_stored_due(explain_due(pack.timescales, info.due, context), view.due)

    def process_maps(self, case_id: int, include_finished: bool = False) -> list[ProcessMap]:
        """A picture of each running process instance of the case (and, with
        ``include_finished``, of those completed or cancelled), oldest first, with where the
        case has got to. Read-only: nothing is run or written."""
        self.cases.case_head(case_id)  # NotFoundError for a case that does not exist
        return self._maps(case_id, self.cases.case_instances(case_id), include_finished)

    def _maps(self, case_id: int, instances: list[CaseInstance], include_finished: bool
              ) -> list[ProcessMap]:
        maps: list[ProcessMap] = []
        for row in instances:
            finished = row.status != "running"
            if finished and not include_finished:
                continue
            pack = self.packs.get_version(row.pack_name, row.pack_version)
            if row.process_id not in pack.bpmn:
                raise CarepathError(f"The pack {pack.key} has no process '{row.process_id}' "
                                    f"to draw (case {case_id}, instance {row.instance_id})")
            key = (row.pack_name, row.pack_version, row.process_id)
            diagram = self._diagrams.get(key)
            if diagram is None:
                file, xml = pack.bpmn[row.process_id]
                diagram = self._diagrams[key] = parse_diagram(xml, row.process_id, file)
            runtime = self.runtime(row.pack_name, row.pack_version)
            live = runtime.restore(row.process_id, row.state, row.episode_seq, row.instance_id)
            states = element_states(diagram, live.workflow.task_states())
            maps.append(ProcessMap(row.instance_id, row.process_id, diagram.title,
                                   row.episode_seq, row.status, diagram, states, finished))
        return maps
