"""One case in memory: open it, complete a task, fire timers. No I/O.

The application service (``carepath.service.cases``) loads what a step needs, calls the runtime, and writes
the :class:`Outcome` in one transaction. Everything the runtime decides is in the outcome: the new
record, the instances that changed or started, the tasks opened and closed, and the events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from carepath.core.errors import (
    ActionUnavailableError,
    ExpressionError,
    NotFoundError,
    RecordError,
    TaskStateError,
)
from carepath.engine.intake import check_child_at_referral, long_date
from carepath.engine.pack import Pack
from carepath.engine.pack_settings import Action
from carepath.engine.record.case_record import (
    CaseRecord,
    Child,
    RecordChange,
    apply_values,
    new_episode,
    record_context,
)
from carepath.engine.record.model import clone_record, in_code_order
from carepath.engine.record.replay import child_json
from carepath.engine.time.clock import today
from carepath.engine.workflow import ReadyTask, WorkflowInstance
from carepath.forms.validation import ValidationContext, record_values, validate

LONDON = ZoneInfo("Europe/London")


def timer_date(value: date | datetime | str) -> str:
    """A date as the ISO date-time a BPMN timer waits for: midnight, London time."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return datetime.combine(value, time(0, 0), LONDON).isoformat()


def pack_functions(pack: Pack) -> dict[str, Callable[..., Any]]:
    """Functions a pack's expressions may call (all trusted host code)."""
    functions: dict[str, Callable[..., Any]] = dict(pack.timescales.functions())
    functions["timer_date"] = timer_date
    functions["today"] = today
    return functions


@dataclass
class LiveInstance:
    """A process instance of a case, with its workflow restored."""

    process_id: str
    episode_seq: int
    pack_name: str
    pack_version: str
    workflow: WorkflowInstance
    db_id: int | None = None
    status: str = "running"
    changed: bool = True


@dataclass(frozen=True)
class TaskRef:
    """An open task as the runtime needs it (a row of the tasks table)."""

    spiff_task_id: str
    bpmn_id: str
    form: str | None
    db_id: int | None = None
    title: str = ""


@dataclass
class NewTask:
    instance: LiveInstance
    task: ReadyTask
    assignee: str | None
    due: date | None


@dataclass
class Outcome:
    record: CaseRecord
    instances: list[LiveInstance] = field(default_factory=list)  # new or changed
    opened: list[NewTask] = field(default_factory=list)
    # (instance, spiff task id, new status) for tasks no longer ready
    closed: list[tuple[LiveInstance, str, str]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    record_changes: list[RecordChange] = field(default_factory=list)
    episode_closed: bool = False


# The child's identifying details a new referral may bring up to date (``child.details_changed``)
CHILD_DETAILS = ("upn", "upn_unknown", "birth_date", "expected_birth_date", "sex", "ethnicity",
                 "disabilities")


def child_details_changes(before: Child, after: Child) -> list[dict[str, Any]]:
    """Each identifying detail that differs between ``before`` and ``after``: ``{"item":
    "child.sex", "before": …, "after": …}`` (dates as ISO text), in a fixed order.

    This is for the case's own history (the audit record) only: the values are personal data
    and must never be written to a log.
    """
    changes: list[dict[str, Any]] = []
    for name in CHILD_DETAILS:
        old, new = getattr(before, name), getattr(after, name)
        if name == "disabilities":  # a set of codes
            old, new = in_code_order(old, "disability"), in_code_order(new, "disability")
        if old == new:
            continue
        changes.append({"item": f"child.{name}", "before": _jsonable(old),
                        "after": _jsonable(new)})
    return changes


def check_new_episode(record: CaseRecord | None, child: Child, referral_date: date) -> None:
    """Refuse a referral the record cannot take, with the DfE rule it would break.

    :class:`FormErrors` (fields ``child.birth_date``, ``referral.date``) for a date of birth after
    the referral (the child was then unborn: give the expected date) or a referral more than 40
    weeks before birth (8606); :class:`RecordError` for a referral dated before an earlier
    episode closed (8820, overlapping episodes: the day it closed is allowed, as the rule says)
    or made while an earlier episode that went on to further action is still open (8815, 8816).
    """
    check_child_at_referral(child, referral_date)
    if record is None:
        return
    for number, ep in enumerate(record.episodes, start=1):
        if ep.closure_date is not None:
            if referral_date < ep.closure_date:
                raise RecordError(
                    f"The referral date must be on or after {long_date(ep.closure_date)}, the "
                    f"day the child's episode {number} closed: episodes cannot overlap (DfE "
                    "rule 8820)")
        elif not ep.referral_nfa:
            raise RecordError(
                f"This child already has an open episode (referral "
                f"{long_date(ep.referral_date)}): close it before recording a new referral "
                "(DfE rules 8815, 8816)")
        elif referral_date < ep.referral_date:
            raise RecordError(
                f"The referral date must be on or after {long_date(ep.referral_date)}, the "
                f"date of the child's episode {number}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class CaseRuntime:
    """Runs one pack's processes over a case record."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.functions = pack_functions(pack)

    # -- instances -----------------------------------------------------------------------

    def restore(self, process_id: str, state: str, episode_seq: int, db_id: int) -> LiveInstance:
        specs = self.pack.specs(process_id)
        workflow = WorkflowInstance.restore(state, specs, self.functions)
        return LiveInstance(process_id, episode_seq, self.pack.name, self.pack.version,
                            workflow, db_id=db_id, changed=False)

    def _start(self, outcome: Outcome, process_id: str, worker: str | None) -> LiveInstance:
        specs = self.pack.specs(process_id)
        workflow = WorkflowInstance.start(specs, {}, self.functions,
                                          record_context(outcome.record))
        episode_seq = len(outcome.record.episodes) - 1
        instance = LiveInstance(process_id, episode_seq, self.pack.name, self.pack.version,
                                workflow)
        outcome.instances.append(instance)
        outcome.events.append(("process.started", {"process": process_id,
                                                   "pack": self.pack.key}))
        self._sync(outcome, instance, set(), worker)
        return instance

    def _due(self, task: ReadyTask, record: CaseRecord) -> date | None:
        if not task.due:
            return None
        return self.pack.timescales.due(task.due, record_context(record))

    def _assignee(self, task: ReadyTask, worker: str | None) -> str | None:
        role = self.pack.roles.get(task.role or "")
        if role is not None and role.assign == "case_worker":
            return worker
        return None

    def _sync(self, outcome: Outcome, instance: LiveInstance, before: set[str],
              worker: str | None) -> None:
        """Record tasks that became ready, and follow on-end starts and completion."""
        ready = instance.workflow.ready_tasks()
        for task in ready:
            if task.id not in before:
                due = self._due(task, outcome.record)
                outcome.opened.append(NewTask(instance, task, self._assignee(task, worker), due))
                outcome.events.append(("task.opened", {
                    "task": task.bpmn_id, "title": task.title, "process": instance.process_id,
                    "due": due.isoformat() if due else None}))
        now_ready = {t.id for t in ready}
        for spiff_id in before - now_ready:
            outcome.closed.append((instance, spiff_id, "cancelled"))
        if instance.workflow.is_completed() and instance.status == "running":
            instance.status = "completed"
            outcome.events.append(("process.completed", {"process": instance.process_id}))

    def _follow_starts(self, outcome: Outcome, instance: LiveInstance, seen: int,
                       worker: str | None) -> None:
        for process_id in instance.workflow.ended_starts()[seen:]:
            if outcome.episode_closed:
                continue
            self._start(outcome, process_id, worker)

    # -- operations ----------------------------------------------------------------------

    def open_episode(self, record: CaseRecord | None, child: Child,
                     referral: Mapping[str, Any], worker: str | None) -> Outcome:
        """A new referral: a new case (``record`` is None) or a new episode on the same case.

        Refused (:class:`FormErrors` or :class:`RecordError`, nothing changed) when the referral
        does not fit the record: see :func:`check_new_episode`. The child's details may have changed since the last
        referral: the new ones replace them, and each change is in a ``child.details_changed``
        event (item, before, after), so the case's history says what was corrected and when.
        """
        if record is not None and record.child.la_child_id != child.la_child_id:
            raise RecordError(f"This referral is for child {child.la_child_id}, not "
                              f"{record.child.la_child_id}")
        check_new_episode(record, child, referral["date"])
        new = clone_record(record) if record is not None else CaseRecord(child=child)
        new.child = dataclasses.replace(child, disabilities=list(child.disabilities))
        new_episode(new, referral["date"], referral["source"])
        outcome = Outcome(record=new)
        kind = "case.opened" if record is None else "referral.recorded"
        # the child's details as given: with the referral, all the record replay needs
        # (carepath.engine.record.replay) to rebuild the record from the events
        outcome.events.append((kind, {"pack": self.pack.key,
                                      "referral": _jsonable(dict(referral)),
                                      "child": child_json(new.child)}))
        if record is not None:
            changes = child_details_changes(record.child, new.child)
            if changes:
                outcome.events.append(("child.details_changed", {"changes": changes}))
        self._start(outcome, self.pack.start, worker)
        return outcome

    def complete(self, record: CaseRecord, instance: LiveInstance, task: TaskRef,
                 raw: Mapping[str, Any], worker: str | None) -> Outcome:
        """Validate, complete the task, map values onto the record, run the engine."""
        if task.form is None:
            raise TaskStateError("This task has no form and cannot be completed")
        form = self.pack.form(task.form)
        episode = record.episodes[-1] if record.episodes else None
        # show_if reads the record as it is before this form's values are applied
        ctx = ValidationContext(today=today(),
                                referral_date=episode.referral_date if episode else None,
                                names=record_context(record))
        cleaned = validate(form, raw, ctx)
        new = clone_record(record)
        if episode is not None and episode.closure_date is not None and \
                instance.episode_seq == len(record.episodes) - 1:
            raise RecordError(f"This episode was closed on {episode.closure_date.isoformat()}: "
                              "no more work can be recorded on it")
        changes = apply_values(new, record_values(form, cleaned))
        outcome = Outcome(record=new, record_changes=changes)
        closed_now = bool(new.episodes) and new.episodes[-1].closure_date is not None and \
            (episode is None or episode.closure_date is None)
        outcome.episode_closed = closed_now

        before = {t.id for t in instance.workflow.ready_tasks()}
        if task.spiff_task_id not in before:
            raise TaskStateError("This task is not ready to be completed (it may already be "
                                 "done)")
        seen_starts = len(instance.workflow.ended_starts())
        # gateways after the task read the record with this form's values applied
        instance.workflow.set_record(record_context(new))
        instance.workflow.complete(task.spiff_task_id, cleaned)
        instance.changed = True
        outcome.instances.append(instance)
        outcome.closed.append((instance, task.spiff_task_id, "completed"))
        outcome.events.append(("task.completed", {
            "task": task.bpmn_id, "title": task.title, "form": task.form,
            "process": instance.process_id,
            "values": _jsonable(cleaned),
        }))
        if changes:
            outcome.events.append(("record.changed", {
                "changes": [{"item": c.item, "value": _jsonable(c.value),
                             "before": _jsonable(c.before)} for c in changes]}))
        self._sync(outcome, instance, before - {task.spiff_task_id}, worker)
        self._follow_starts(outcome, instance, seen_starts, worker)
        return outcome

    def action(self, name: str) -> Action:
        action = self.pack.actions.get(name)
        if action is None:
            known = ", ".join(sorted(self.pack.actions)) or "none"
            raise NotFoundError(f"The pack {self.pack.key} has no action '{name}' (its actions: "
                                f"{known})")
        return action

    def is_available(self, action: Action, record: CaseRecord,
                     running: Collection[str] = ()) -> bool:
        """True if ``action`` may be taken on ``record`` now: its ``available`` expression is
        true and its process is not already running on the current episode (``running``: the
        process ids with an instance running there, which the record cannot show)."""
        if not record.episodes or (action.start is not None and action.start in running):
            return False
        try:
            return action.available.evaluate(record_context(record), self.functions) is True
        except ExpressionError:
            return False

    def check_available(self, action: Action, record: CaseRecord,
                        running: Collection[str] = ()) -> None:
        if not self.is_available(action, record, running):
            raise ActionUnavailableError(f"The action '{action.title}' is not available on "
                                         "this case now")

    def available_actions(self, record: CaseRecord,
                          running: Collection[str] = ()) -> list[Action]:
        """The pack's actions that may be taken on ``record`` now, in the pack's order."""
        return [a for a in self.pack.actions.values() if self.is_available(a, record, running)]

    def take_action(self, record: CaseRecord, action_name: str, worker: str | None,
                    running: Collection[str] = (),
                    values: Mapping[str, Any] | None = None) -> Outcome:
        """Start the action's process as its own instance on the current episode.

        With ``values``, the process's first task (ready at once) is completed with them in
        the same outcome: opened and completed together."""
        action = self.action(action_name)
        self.check_available(action, record, running)
        if action.start is None:
            raise TaskStateError(f"The action '{action.title}' changes the case itself: the "
                                 "service makes that change")
        outcome = Outcome(record=clone_record(record))
        outcome.events.append(("action.taken", {"action": action.name, "title": action.title}))
        instance = self._start(outcome, action.start, worker)
        if not values:
            return outcome
        first = [n for n in outcome.opened if n.instance is instance]
        if len(first) != 1:
            raise TaskStateError(f"The action '{action.title}' does not open exactly one task "
                                 "to complete with the values given: take it without values "
                                 "and complete its tasks")
        task = first[0].task
        done = self.complete(outcome.record, instance,
                             TaskRef(task.id, task.bpmn_id, task.form, title=task.title),
                             values, worker)
        return Outcome(
            record=done.record,
            instances=[outcome.instances[0], *(i for i in done.instances
                                               if i is not outcome.instances[0])],
            opened=outcome.opened + done.opened,
            closed=outcome.closed + done.closed,
            events=outcome.events + done.events,
            record_changes=done.record_changes,
            episode_closed=done.episode_closed,
        )

    def fire_timers(self, record: CaseRecord, instance: LiveInstance,
                    worker: str | None) -> Outcome:
        outcome = Outcome(record=record)
        before = {t.id for t in instance.workflow.ready_tasks()}
        seen_starts = len(instance.workflow.ended_starts())
        instance.workflow.set_record(record_context(record))
        if not instance.workflow.run_timers():
            return outcome
        instance.changed = True
        outcome.instances.append(instance)
        outcome.events.append(("timer.fired", {"process": instance.process_id}))
        self._sync(outcome, instance, before, worker)
        self._follow_starts(outcome, instance, seen_starts, worker)
        return outcome
