"""The story runner: drives any pack through a child's story, as a caseworker would.

At each step it looks at the ready tasks, works out what the story can give each task's form, and
simulates the choices a worker could make (decision questions) to pick the one that records what
the story says happens next. It sets the clock to the story date the task records, completes the
task through the real store, and stops when the story has nothing for the ready tasks. If a pack
asks for something the story cannot give, it fails naming the task and the missing item.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from carepath.adapters.db.store import CaseStore, LiveTask, TaskView
from carepath.engine.clock import FixedClock, use_clock
from carepath.engine.errors import CarepathError, StoryError
from carepath.engine.pack import Pack
from carepath.engine.record import CaseRecord
from carepath.engine.record_items import RECORD_ITEMS
from carepath.engine.runtime import LiveInstance, TaskRef
from carepath.engine.story_cursor import PendingEvent, StoryValue, pending_events, story_values
from carepath.forms.schema import Field, FieldType, Form
from carepath.forms.validation import ValidationContext, visible_fields

LONDON = ZoneInfo("Europe/London")
MAX_COMBINATIONS = 64
MAX_IDLE_STEPS = 12
MAX_STEPS = 2_000
# Items that add something each time they are recorded: recording one the story has already
# had would add a second.
ADDING = {"assessment.start", "s47.start", "cp_plan.start", "cin_plan.start", "cp_plan.review",
          "closure.date"}


@dataclass
class StoryResult:
    case_ids: list[int]
    stopped_at: list[TaskView]
    completed: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"case_ids": self.case_ids,
                "stopped_at": [t.as_json() for t in self.stopped_at]}


@dataclass
class Plan:
    """One way to complete one task: the values, what they record, and how good a step it is."""

    task: TaskView
    values: dict[str, Any]
    recorded: list[StoryValue]
    when: date
    score: tuple[Any, ...]
    missing: list[str] = field(default_factory=list)

    @property
    def first_key(self) -> tuple[date, int]:
        return min(v.key for v in self.recorded)


@dataclass
class _Trial:
    values: dict[str, Any]
    recorded: list[StoryValue]
    missing: list[str]
    invalid: str | None = None


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), LONDON).astimezone(UTC)


class StoryRunner:
    def __init__(self, store: CaseStore, pack: Pack, actor: str = "story-runner",
                 worker: str | None = "story-worker") -> None:
        self.store = store
        self.pack = pack
        self.actor = actor
        self.worker = worker

    def run(self, story: Mapping[str, Any]) -> StoryResult:
        episodes = list(story["episodes"])
        child = dict(story["child"])
        clock = FixedClock(_noon(episodes[0]["referral"]["date"]))
        with use_clock(clock):
            return self._run(child, episodes, clock)

    def _open(self, child: Mapping[str, Any], episode: Mapping[str, Any],
              clock: FixedClock) -> int:
        referral = episode["referral"]
        clock.set(max(clock.now(), _noon(referral["date"])))
        return self.store.open_case(self.pack.name, child,
                                    {"date": referral["date"], "source": referral["source"]},
                                    self.actor, worker=self.worker)

    def _run(self, child: Mapping[str, Any], episodes: list[Mapping[str, Any]],
             clock: FixedClock) -> StoryResult:
        case_id = self._open(child, episodes[0], clock)
        result = StoryResult([case_id], [])
        index = 0
        idle = 0
        for _ in range(MAX_STEPS):
            record = self.store.record(case_id)
            target = episodes[index]
            pending = pending_events(target, record.episodes[index])
            tasks = self.store.tasks(case_id=case_id)
            if not pending:
                if index + 1 < len(episodes) and record.episodes[-1].closure_date is not None:
                    index += 1
                    self._open(child, episodes[index], clock)
                    continue
                result.stopped_at = tasks
                return result
            plans, blocked = self._plans(tasks, child, target, record, pending, clock)
            actionable = [p for p in plans if p.recorded]
            if actionable:
                plan = min(actionable, key=lambda p: (p.first_key, p.score, p.task.id))
                idle = 0
            else:
                if blocked:
                    task, missing = blocked[0]
                    names = ", ".join(f"'{m}' ({RECORD_ITEMS[m].title})" for m in missing)
                    raise StoryError(f"Task {task.id} '{task.title}' (form {task.form}) needs "
                                     f"{names}, which the story does not give")
                idle += 1
                useful = [p for p in plans if p.score[1] == 0]
                if not useful or idle > MAX_IDLE_STEPS:
                    result.stopped_at = tasks
                    return result
                plan = min(useful, key=lambda p: (p.score, p.task.id))
            clock.set(max(clock.now(), _noon(plan.when)))
            self.store.complete_task(plan.task.id, plan.values, self.actor)
            result.completed += 1
        raise StoryError(f"The story did not finish within {MAX_STEPS} tasks")

    # -- choosing how to complete a task -------------------------------------------------

    def _plans(self, tasks: list[TaskView], child: Mapping[str, Any],
               target: Mapping[str, Any], record: CaseRecord, pending: list[PendingEvent],
               clock: FixedClock) -> tuple[list[Plan], list[tuple[TaskView, list[str]]]]:
        plans: list[Plan] = []
        blocked: list[tuple[TaskView, list[str]]] = []
        today = clock.now().astimezone(LONDON).date()
        for task in tasks:
            if not task.form:
                continue
            form = self.pack.form(task.form)
            live = self.store.load_live(task.id)
            best: Plan | None = None
            missing_everywhere: list[str] | None = None
            for trial in self._trials(form, child, target, record, today):
                if trial.invalid:
                    continue
                if trial.missing:
                    if any(v.pending for v in trial.recorded):
                        missing_everywhere = missing_everywhere or trial.missing
                    continue
                plan = self._judge(task, form, live, trial, pending, child, target, today)
                if plan is not None and (best is None or plan.score < best.score):
                    best = plan
            if best is not None:
                plans.append(best)
            elif missing_everywhere:
                blocked.append((task, missing_everywhere))
        return plans, blocked

    def _trials(self, form: Form, child: Mapping[str, Any], target: Mapping[str, Any],
                record: CaseRecord, today: date) -> list[_Trial]:
        items = {f.record for f in form.fields if f.record}
        given = story_values(child, target, record, items)
        decisions = [f for f in form.fields
                     if not f.record and f.type in (FieldType.CHOICE, FieldType.YESNO)]
        choices: list[list[Any]] = []
        for f in decisions:
            if f.type is FieldType.YESNO:
                choices.append([True, False])
            else:
                choices.append([o.value for o in f.options])
        trials: list[_Trial] = []
        for combo in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
            trials.append(self._trial(form, given, dict(zip([f.name for f in decisions], combo,
                                                            strict=True)), today))
        return trials

    def _trial(self, form: Form, given: Mapping[str, StoryValue], chosen: dict[str, Any],
               today: date) -> _Trial:
        values: dict[str, Any] = dict(chosen)
        for f in form.fields:
            if f.record and f.record in given:
                values[f.name] = given[f.record].value
        ctx = ValidationContext(today=today)
        visible = visible_fields(form, values, ctx)
        recorded: list[StoryValue] = []
        missing: list[str] = []
        invalid: str | None = None
        for f in visible:
            if not f.record:
                continue
            story_value = given.get(f.record)
            if story_value is None:
                if f.required:
                    missing.append(f.record)
                continue
            if story_value.pending:
                recorded.append(story_value)
            elif f.record in ADDING:
                invalid = f"{f.record} is already recorded"
        when = max([v.when for v in recorded if v.when] + [today])
        final: dict[str, Any] = {}
        for f in visible:
            if f.name in values:
                final[f.name] = values[f.name]
            elif f.required and not f.record:
                final[f.name] = _filler(f, when)
        return _Trial(final, recorded, missing, invalid)

    def _judge(self, task: TaskView, form: Form, live: LiveTask, trial: _Trial,
               pending: list[PendingEvent], child: Mapping[str, Any],
               target: Mapping[str, Any], today: date) -> Plan | None:
        when = max([v.when for v in trial.recorded if v.when] + [today])
        recorded_items = {(v.item, v.when) for v in trial.recorded}
        try:
            with use_clock(FixedClock(_noon(when))):
                record = copy.deepcopy(live.record)
                instance = _copy_instance(live.instance)
                outcome = live.runtime.complete(record, instance, live.ref, trial.values,
                                                live.worker)
        except CarepathError:
            return None
        # what the tasks it opens could record next
        covered: set[tuple[str, date | None]] = set()
        for new in outcome.opened:
            if not new.task.form:
                continue
            next_form = self.pack.form(new.task.form)
            items = {f.record for f in next_form.fields if f.record}
            for v in story_values(child, target, outcome.record, items).values():
                if v.pending:
                    covered.add((v.item, v.when))
        top = max((v.key for v in trial.recorded), default=None)
        violations = 0
        if top is not None:
            violations = sum(1 for e in pending
                             if (e.item, e.when) not in recorded_items and e.key < top)
        remaining = [e for e in pending if (e.item, e.when) not in recorded_items]
        first = remaining[0] if remaining else None
        reaches_next = first is None or (first.item, first.when) in covered
        closes_early = outcome.episode_closed and bool(remaining)
        score = (
            violations + (10 if closes_early else 0),
            0 if (trial.recorded or reaches_next or covered) else 1,
            0 if reaches_next else 1,
            -len(trial.recorded),
            -len(covered),
        )
        return Plan(task, trial.values, trial.recorded, when, score)


def _copy_instance(instance: LiveInstance) -> LiveInstance:
    return LiveInstance(instance.process_id, instance.episode_seq, instance.pack_name,
                        instance.pack_version, instance.workflow.copy(), instance.db_id,
                        instance.status, instance.changed)


def _filler(f: Field, when: date) -> Any:
    """A value for a required question the story knows nothing about."""
    if f.type is FieldType.DATE:
        return when
    return f.example


__all__ = ["StoryResult", "StoryRunner", "TaskRef"]
