"""The story runner: drives any pack through a child's story, as a caseworker would.

At each step it looks at the ready tasks, works out what the story can give each task's form, and
simulates the choices a worker could make (decision questions) to pick the one that records what
the story says happens next. Work happens in story-date order: the clock at each completion is the
date of what the task records and never goes backwards; an option that would record a date earlier
than the clock (back-date it) is not taken. The runner prefers a task that records the story's
earliest pending event; failing that, a task that records nothing but opens work that does;
failing that, a pack action (``CaseService.actions`` / ``act``, as a trusted operator) whose
process's first task could record it, worked out in memory first. What none of them can record is
given up, with why, and the runner goes on with the rest. It stops when the story has nothing for
the ready tasks, and then compares the story with the record: every item not recorded as the story
says is in ``StoryResult.unrecorded`` (its path in the story and why). If a pack asks for something
the story cannot give, it fails naming the task and the missing item.

How it stays fast (the choice it makes is the one simulating every option of every task gives):

* the record is kept in memory, changed exactly as the store changes it (a referral adds an
  episode; a completion applies the form's ``record:`` mappings); the ready tasks, with the state
  of their process instances, come in one query per step;
* decision questions that neither a show_if of the form nor anything in the pack's processes
  reads cannot change what happens: they are answered once (the first option), not tried in turn;
  options that leave the same answers (hidden questions) are tried once;
* an option is simulated (its process instance restored and the task completed in memory) only
  when the cheap part of its score ties with another option's, or when it is the one chosen;
* the chosen option's simulated outcome is what gets written: one transaction through the
  store's own writer (the repository's ``write``), behind the same optimistic version check as
  ``CaseService.complete_task``, so the task is not worked out a second time. If the case changed
  since the step read it, nothing is written (``ConflictError``).

``check_record=True`` compares the record kept in memory with the database after every step
(for tests).
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from carepath.core.errors import CarepathError, StoryError
from carepath.core.record_items import RECORD_ITEMS
from carepath.engine.intake import check_child, check_referral
from carepath.engine.pack import Pack
from carepath.engine.record.case_record import (
    CaseRecord,
    new_episode,
    record_to_story,
)
from carepath.engine.record.context import record_context
from carepath.engine.runtime import CaseRuntime, LiveInstance, Outcome, TaskRef
from carepath.engine.stories.cursor import (
    PendingEvent,
    StoryValue,
    pending_events,
    pending_looked_after,
    story_values,
)
from carepath.engine.stories.lac_cursor import OPENING as LAC_OPENING
from carepath.engine.time.clock import FixedClock, today, use_clock
from carepath.engine.workflow import WorkflowInstance
from carepath.forms.schema import Field, FieldType, Form
from carepath.forms.validation import ValidationContext, visible_fields
from carepath.service.cases import CaseService
from carepath.service.story_report import (
    Unrecorded,
    event_path,
    unrecorded,
    why_unrecorded,
)
from carepath.service.types import Actor, TaskView

LONDON = ZoneInfo("Europe/London")
MAX_COMBINATIONS = 64
MAX_IDLE_STEPS = 12
MAX_STEPS = 2_000
# Items that add something each time they are recorded: recording one the story has already
# had would add a second.
ADDING = {"assessment.start", "s47.start", "cp_plan.start", "cin_plan.start", "cp_plan.review",
          "closure.date", "episode.emergency_protection",
          *(LAC_OPENING - {"outcomes.year"})}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class StoryResult:
    case_ids: list[int]
    stopped_at: list[TaskView]
    completed: int = 0
    # story items never recorded (empty when the record equals the story)
    unrecorded: list[Unrecorded] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        """True if every item of the story was recorded."""
        return not self.unrecorded

    def as_json(self) -> dict[str, Any]:
        return {"case_ids": self.case_ids,
                "stopped_at": [t.as_json() for t in self.stopped_at],
                "unrecorded": [u.as_json() for u in self.unrecorded]}


@dataclass
class _Trial:
    values: dict[str, Any]
    recorded: list[StoryValue]
    missing: list[str]
    invalid: str | None = None


@dataclass(frozen=True)
class _Live:
    """A ready task with what is needed to simulate completing it: its process instance's
    stored state (restored only if a simulation is needed)."""

    view: TaskView
    ref: TaskRef
    instance_id: int
    process_id: str
    episode_seq: int
    state: str
    pack_name: str
    pack_version: str
    worker: str | None
    case_version: int


@dataclass
class _FormInfo:
    form: Form
    items: frozenset[str]
    decisions: list[Field]  # tried option by option
    fixed: dict[str, Any]  # decisions nothing reads: answered once
    # record items the form always asks for (required, no show_if): a task of the form can be
    # completed only on a story that gives them
    needs: frozenset[str] = frozenset()


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), LONDON).astimezone(UTC)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _values_key(values: Mapping[str, Any]) -> Any:
    return _freeze(dict(values))


_PACK_WORDS: dict[int, tuple[Pack, frozenset[str]]] = {}


def _pack_words(pack: Pack) -> frozenset[str]:
    """Every name-like word in the pack's processes (conditions, timers, anything): a decision
    question is tried option by option only if its name is among them (or a show_if reads it)."""
    cached = _PACK_WORDS.get(id(pack))
    if cached is not None and cached[0] is pack:
        return cached[1]
    words: set[str] = set()
    for _, xml in pack.bpmn.values():
        words.update(_WORD.findall(xml.decode("utf-8", errors="replace")))
    if not pack.bpmn:  # no XML kept: fall back to the conditions the specs know
        for process_id in pack.library.process_ids():
            for condition in pack.specs(process_id).conditions:
                words.update(_WORD.findall(condition.source))
    frozen = frozenset(words)
    _PACK_WORDS[id(pack)] = (pack, frozen)
    return frozen


class _Candidate:
    """One way to complete one task, scored lazily: the parts of the score that need the task
    completed in memory are worked out only when a choice depends on them."""

    def __init__(self, step: _Step, live: _Live, info: _FormInfo, trial: _Trial,
                 order: int) -> None:
        self.step = step
        self.live = live
        self.info = info
        self.trial = trial
        self.order = order
        self.recorded = trial.recorded
        self.when = max([v.when for v in trial.recorded if v.when] + [step.today])
        recorded_items = {(v.item, v.when) for v in trial.recorded}
        top = max((v.key for v in trial.recorded), default=None)
        violations = 0
        if top is not None:
            violations = sum(1 for e in step.pending
                             if (e.item, e.when) not in recorded_items and e.key < top)
        remaining = [e for e in step.pending if (e.item, e.when) not in recorded_items]
        self.first_remaining = remaining[0] if remaining else None
        # completing it closes the episode exactly when it records the (pending) closure date
        closes = any(v.item == "closure.date" for v in trial.recorded)
        self.s0 = violations + (10 if closes and remaining else 0)
        self._outcome: Outcome | None = None
        self._simulated = False
        self._covered: set[tuple[str, date | None]] = set()

    @property
    def failed(self) -> bool:
        """Simulated, and the engine refused it."""
        return self._simulated and self._outcome is None

    @property
    def key(self) -> Any:
        return (self.live.view.id, _values_key(self.trial.values))

    @property
    def first_key(self) -> tuple[date, int]:
        return min(v.key for v in self.recorded)

    def simulate(self) -> bool:
        """Complete the task in memory; False if the engine refuses the values."""
        if not self._simulated:
            self._simulated = True
            self._outcome = self.step.runner._simulate(self.live, self.step.record,
                                                       self.trial.values, self.when)
            if self._outcome is not None:
                self._covered = self.step.covered(self._outcome)
        return self._outcome is not None

    @property
    def outcome(self) -> Outcome | None:
        return self._outcome if self._simulated else None

    def reaches(self, day: date) -> bool:
        """Simulated, and the tasks it opens could record a pending event of ``day``."""
        return self.simulate() and any(when == day for _, when in self._covered)

    def _reaches_next(self) -> bool:
        first = self.first_remaining
        return first is None or (first.item, first.when) in self._covered

    # each level of the score; None when it cannot be known (the simulation failed)
    def level(self, index: int) -> int | None:
        if index == 0:
            return self.s0
        if index == 1 and self.recorded:
            return 0
        if index == 3:
            return -len(self.recorded)
        if not self.simulate():
            return None
        if index == 1:
            return 0 if (self._reaches_next() or self._covered) else 1
        if index == 2:
            return 0 if self._reaches_next() else 1
        # work it opens for what happens soon (on the day of the next event): opening work now
        # for an event months away may hold up what comes before it
        first = self.first_remaining
        return -sum(1 for _, when in self._covered if first is None or when == first.when)



SCORE_LEVELS = 5


def _lazy_min(candidates: Sequence[_Candidate],
              prefix: Callable[[_Candidate], Any] | None = None,
              after: Callable[[_Candidate], Any] | None = None) -> _Candidate | None:
    """The candidate with the least ``(prefix, score, after)``, ties to the earliest; score
    levels are worked out only for candidates still tied. A candidate whose simulation fails
    is left out, as it would be if every candidate were simulated first."""
    while True:
        alive = [c for c in candidates if not c.failed]
        if not alive:
            return None
        if prefix is not None:
            least = min(prefix(c) for c in alive)
            alive = [c for c in alive if prefix(c) == least]
        for index in range(SCORE_LEVELS):
            if len(alive) <= 1:
                break
            scored = [(c.level(index), c) for c in alive]
            alive_scores = [(v, c) for v, c in scored if v is not None]
            if not alive_scores:
                break  # every tied candidate failed: choose again without them
            least_level = min(v for v, _ in alive_scores)
            alive = [c for v, c in alive_scores if v == least_level]
        alive = [c for c in alive if not c.failed]
        if not alive:
            continue
        if after is not None and len(alive) > 1:
            least = min(after(c) for c in alive)
            alive = [c for c in alive if after(c) == least]
        return alive[0]


class _Step:
    """What one step of the runner knows: the record, the story's pending events, today."""

    def __init__(self, runner: StoryRunner, child: Mapping[str, Any], target: Mapping[str, Any],
                 record: CaseRecord, pending: list[PendingEvent], today: date) -> None:
        self.runner = runner
        self.child = child
        self.target = target
        self.record = record
        self.pending = pending
        self.today = today
        self._given: dict[frozenset[str], dict[str, StoryValue]] = {}

    def given(self, items: frozenset[str]) -> dict[str, StoryValue]:
        found = self._given.get(items)
        if found is None:
            found = story_values(self.child, self.target, self.record, items,
                                 self.runner.looked_after)
            self._given[items] = found
        return found

    def covered(self, outcome: Outcome) -> set[tuple[str, date | None]]:
        """The pending items the tasks an outcome opens could record next."""
        covered: set[tuple[str, date | None]] = set()
        for new in outcome.opened:
            if not new.task.form:
                continue
            info = self.runner._form_info(new.task.form)
            values = story_values(self.child, self.target, outcome.record, info.items,
                                  self.runner.looked_after)
            if not info.needs <= set(values):
                continue  # it asks for what the story does not give: it records nothing
            for v in values.values():
                if v.pending:
                    covered.add((v.item, v.when))
        return covered


class StoryRunner:
    def __init__(self, service: CaseService, pack: Pack, actor: str = "story-runner",
                 worker: str | None = "story-worker", check_record: bool = False,
                 team: str | None = None) -> None:
        """``check_record``: after each task, compare the record kept in memory with the one
        in the database (slow; for tests)."""
        self.service = service
        self.pack = pack
        self.actor = actor
        self.acting = Actor.operator(actor)
        self.worker = worker
        self.team = team
        self.check_record = check_record
        self._forms: dict[str, _FormInfo] = {}
        self._runtimes: dict[tuple[str, str], CaseRuntime] = {}
        # (pack key, process id) -> _reachable_items
        self._reachable: dict[tuple[str, str], frozenset[str]] = {}
        # instance id -> (its state as stored, the live workflow it was stored from): the
        # workflows the runner's writes left, taken instead of restoring the state, once each
        # (completing a task changes it). The state is None until the next read of the case's
        # work shows what was stored (nothing writes the case in between).
        self._warm: dict[int, tuple[str | None, WorkflowInstance]] = {}
        self.simulations = 0  # how many task completions were simulated (for profiling)
        self.looked_after: Mapping[str, Any] | None = None  # the story's, while it runs

    def run(self, story: Mapping[str, Any]) -> StoryResult:
        episodes = list(story["episodes"])
        child = dict(story["child"])
        clock = FixedClock(_noon(episodes[0]["referral"]["date"]))
        self.looked_after = story.get("looked_after")
        try:
            with use_clock(clock):
                return self._run(child, episodes, clock, list(story.get("worker_changes", ())))
        finally:
            self.looked_after = None
            self._warm.clear()

    def _open(self, child: Mapping[str, Any], episode: Mapping[str, Any],
              clock: FixedClock) -> int:
        referral = episode["referral"]
        clock.set(max(clock.now(), _noon(referral["date"])))
        return self.service.open_case(self.pack.name, child,
                                      {"date": referral["date"], "source": referral["source"]},
                                      self.acting, worker=self.worker,
                                      team=self.team, version=self.pack.version).case_id

    def _run(self, child: Mapping[str, Any], episodes: list[Mapping[str, Any]],
             clock: FixedClock, changes: list[Mapping[str, Any]]) -> StoryResult:
        case_id = self._open(child, episodes[0], clock)
        changed = 0  # worker changes made (or given up), in the story's order
        missed: list[Unrecorded] = []
        record = self._opened(None, child, episodes[0], case_id)
        result = StoryResult([case_id], [])
        index = 0
        idle = 0
        rejected: set[Any] = set()
        # story items the runner could not record, with why (by their path in the story)
        reasons: dict[str, str] = {}
        given_up: set[tuple[int, str, tuple[int, ...]]] = set()
        for _ in range(MAX_STEPS):
            target = episodes[index]
            until = episodes[index + 1]["referral"]["date"] if index + 1 < len(episodes) else None
            pending = [e for e in pending_events(target, record.episodes[index])
                       if (index, e.item, e.index) not in given_up]
            pending += [e for e in pending_looked_after(self.looked_after, record, until)
                        if (-1, e.item, e.index) not in given_up]
            pending.sort(key=lambda e: e.key)
            tasks, lives = self._ready(case_id)
            if changed < len(changes) and self._change_due(changes[changed], pending, index,
                                                           episodes):
                why = self._change_worker(case_id, changes[changed], clock)
                if why is not None:
                    missed.append(Unrecorded(f"worker_changes[{changed}]", why))
                changed += 1
                continue
            if not pending:
                current = record.episodes[-1]
                if index + 1 < len(episodes):
                    # the next referral: once this episode is closed, or (DfE rules 8815/8816)
                    # while it stays open as a referral with no further action
                    if current.closure_date is None and not current.referral_nfa:
                        raise StoryError(
                            f"Episode {index + 1} of the story is still open in the record, so "
                            f"the referral of episode {index + 2} cannot be recorded")
                    index += 1
                    self._open(child, episodes[index], clock)
                    record = self._opened(record, child, episodes[index], case_id)
                    continue
                result = self._finish(result, tasks, child, episodes, record, reasons)
                result.unrecorded += missed
                return result
            day = clock.now().astimezone(LONDON).date()
            first = pending[0]
            if first.when < day:
                # the clock went past it: recording it now would back-date it
                for e in pending:
                    if e.when < day:
                        given_up.add((_given_up_key(index, e), e.item, e.index))
                        reasons.setdefault(
                            event_path(index, e),
                            f"it happened on {e.when.isoformat()}, but no task or action "
                            f"could record it before the case reached {day.isoformat()}: "
                            "recording it then would back-date it")
                continue
            step = _Step(self, child, target, record, pending, day)
            worked_out: dict[int, _Candidate | None] = {}
            bests, blocked = self._bests(step, lives, rejected, first.when, worked_out)
            # what records the story's earliest pending events (on their day) comes first
            on_time = [c for c in bests if c.recorded and c.first_key[0] == first.when]
            chosen: _Candidate | None = None
            if on_time:
                chosen = _lazy_min(on_time, prefix=lambda c: c.first_key,
                                   after=lambda c: c.live.view.id)
            else:
                bests, blocked = self._bests(step, lives, rejected, memo=worked_out)
                actionable = [c for c in bests if c.recorded]
                if blocked:
                    # a task whose best option is refused may be blocked too: check them all
                    for c in bests:
                        c.simulate()
                idle_ones = [c for c in bests if not c.recorded]
                for c in idle_ones:
                    c.simulate()
                if not any(c.failed for c in bests):
                    if blocked and not actionable:
                        task, missing = blocked[0]
                        names = ", ".join(f"'{item}' ({RECORD_ITEMS[item].title})"
                                          for item in missing)
                        raise StoryError(f"Task {task.id} '{task.title}' (form {task.form}) "
                                         f"needs {names}, which the story does not give")
                    # work that records nothing but opens what records the earliest events
                    reaching = [c for c in idle_ones if c.reaches(first.when)]
                    if reaching and idle < MAX_IDLE_STEPS:
                        chosen = _lazy_min(reaching, after=lambda c: c.live.view.id)
                    elif self._take_action(case_id, step, lives, clock, first.when):
                        idle += 1
                        rejected = set()
                        continue
                    else:
                        why = why_unrecorded(first, tasks, blocked)
                        for e in pending:
                            if e.when == first.when:
                                given_up.add((_given_up_key(index, e), e.item, e.index))
                                reasons.setdefault(event_path(index, e), why)
                        idle = 0
                        continue
            failed = [c for c in bests if c.failed]
            if failed or chosen is None:
                # a task's best option turned out to be refused: its next best takes its place
                rejected.update(c.key for c in failed)
                continue
            if not chosen.simulate():
                rejected.add(chosen.key)  # refused by the engine: its task's next best counts
                continue
            moment = max(clock.now(), _noon(chosen.when))
            clock.set(moment)
            outcome = chosen.outcome
            if outcome is None or moment != _noon(chosen.when):
                # complete it on the clock the store would use (a timer may fire on it)
                outcome = self._outcome(chosen.live, record, chosen.trial.values)
            self._commit(case_id, chosen.live, record, outcome)
            idle = 0 if chosen.recorded else idle + 1
            rejected = set()
            result.completed += 1
            record = outcome.record
            self._check(case_id, record, f"after task {chosen.live.view.id}")
        raise StoryError(f"The story did not finish within {MAX_STEPS} tasks")

    def _finish(self, result: StoryResult, tasks: list[TaskView], child: Mapping[str, Any],
                episodes: list[Mapping[str, Any]], record: CaseRecord,
                reasons: Mapping[str, str]) -> StoryResult:
        """The runner stopped: what it left open, and every story item it never recorded."""
        result.stopped_at = tasks
        if tasks:
            titles = ", ".join(f"'{t.title}'" for t in tasks)
            default = f"no open task ({titles}) or action of the pack could record it"
        else:
            default = "no task was open and no action of the pack could record it"
        reasons = dict(reasons)
        for later in range(len(record.episodes), len(episodes)):
            reasons.setdefault(f"episodes[{later}]", "its referral could not be recorded: the "
                               "episode before it was never closed")
        story: dict[str, Any] = {"child": child, "episodes": episodes}
        if self.looked_after:
            story["looked_after"] = self.looked_after
        result.unrecorded = unrecorded(story, record, reasons, default)
        return result

    @staticmethod
    def _change_due(change: Mapping[str, Any], pending: Sequence[PendingEvent], index: int,
                    episodes: Sequence[Mapping[str, Any]]) -> bool:
        """Whether a worker change comes next: before the episode's pending events of a
        later day (first on its own day), and before the next referral."""
        day: date = change["date"]
        if pending:
            return day <= pending[0].when
        return index + 1 >= len(episodes) or day < episodes[index + 1]["referral"]["date"]

    def _change_worker(self, case_id: int, change: Mapping[str, Any],
                       clock: FixedClock) -> str | None:
        """Allocate the story's new worker on its day with the pack's ``change: worker``
        action; why it could not be recorded, or None."""
        day: date = change["date"]
        now = clock.now().astimezone(LONDON).date()
        if day < now:
            return (f"it happened on {day.isoformat()}, but the case had reached "
                    f"{now.isoformat()}: recording it then would back-date it")
        action = next((a for a in self.pack.actions.values() if a.change == "worker"), None)
        if action is None:
            return "the pack has no action that changes the allocated worker (change: worker)"
        clock.set(max(clock.now(), _noon(day)))
        try:
            self.service.act(case_id, action.name, self.acting, {"worker": change["worker"]})
        except CarepathError as exc:
            return f"the pack's action '{action.name}' could not record it on " \
                   f"{day.isoformat()}: {exc}"
        return None

    def _take_action(self, case_id: int, step: _Step, lives: list[_Live], clock: FixedClock,
                     day: date) -> bool:
        """Take the first available action whose process opens work that records a pending
        event of ``day`` (worked out in memory first); False if there is none."""
        available = self.service.actions(case_id, self.acting)
        if not available:
            return False
        head = self.service.head(case_id)
        runtime = self._runtime(head.pack_name, head.pack_version)
        current = len(step.record.episodes) - 1
        running = {live.process_id for live in lives if live.episode_seq == current}
        wanted = {e.item for e in step.pending if e.when == day}
        for action in available:
            start = runtime.action(action.name).start
            if start is None or not wanted & self._reachable_items(runtime.pack, start):
                continue  # no form its work could open asks for what happens that day
            try:
                with use_clock(FixedClock(_noon(day))):
                    outcome = runtime.take_action(step.record, action.name, head.worker,
                                                  running)
            except CarepathError:
                continue
            if any(when == day for _, when in step.covered(outcome)):
                clock.set(max(clock.now(), _noon(day)))
                self.service.act(case_id, action.name, self.acting,
                                 expected_version=head.version)
                return True
        return False

    def _reachable_items(self, pack: Pack, process_id: str) -> frozenset[str]:
        """The record items of every form of the process, of the processes it calls and of
        those its end events start, and so on: all that taking an action starting it could
        ever open a task for."""
        found = self._reachable.get((pack.key, process_id))
        if found is None:
            items: set[str] = set()
            seen: set[str] = set()
            todo = [process_id]
            while todo:
                current = todo.pop()
                if current in seen:
                    continue
                seen.add(current)
                specs = pack.specs(current)
                for task in specs.tasks.values():
                    if task.form:
                        items.update(f.record for f in pack.form(task.form).fields if f.record)
                todo.extend(specs.end_starts.values())
            found = self._reachable[(pack.key, process_id)] = frozenset(items)
        return found

    def _opened(self, record: CaseRecord | None, child: Mapping[str, Any],
                episode: Mapping[str, Any], case_id: int) -> CaseRecord:
        """The record once a referral is recorded: a new episode (as ``CaseService.open_case``
        and ``CaseRuntime.open_episode`` make it)."""
        ctx = ValidationContext(today=today())
        child_value = check_child(child, ctx)
        referral = check_referral({"date": episode["referral"]["date"],
                                   "source": episode["referral"]["source"]}, ctx)
        new = copy.deepcopy(record) if record is not None else CaseRecord(child=child_value)
        new.child = copy.deepcopy(child_value)
        new_episode(new, referral["date"], referral["source"])
        self._check(case_id, new, "after the referral")
        return new

    def _check(self, case_id: int, record: CaseRecord, when: str) -> None:
        if not self.check_record:
            return
        stored = self.service.record(case_id)
        if record_to_story(stored) != record_to_story(record):
            raise StoryError(f"the runner's record of case {case_id} differs from the "
                             f"database {when}")

    # -- the database ------------------------------------------------------------------

    def _ready(self, case_id: int) -> tuple[list[TaskView], list[_Live]]:
        """The case's ready tasks (as ``CaseService.tasks`` lists them) with their instances."""
        tasks: list[TaskView] = []
        lives: list[_Live] = []
        for work in self.service.cases.ready_work(case_id):
            warm = self._warm.get(work.instance_id)
            if warm is not None and warm[0] is None:
                self._warm[work.instance_id] = (work.state, warm[1])
            tasks.append(work.view)
            lives.append(_Live(work.view, work.ref, work.instance_id, work.view.process,
                               work.episode_seq, work.state, work.pack_name, work.pack_version,
                               work.case_worker, work.case_version))
        # a workflow is matched with what was stored only by the first read after the write
        for instance_id in [i for i, (stored, _) in self._warm.items() if stored is None]:
            del self._warm[instance_id]
        return tasks, lives

    def _runtime(self, pack_name: str, pack_version: str) -> CaseRuntime:
        key = (pack_name, pack_version)
        runtime = self._runtimes.get(key)
        if runtime is None:
            runtime = self.service.runtime(pack_name, pack_version)
            self._runtimes[key] = runtime
        return runtime

    # -- in memory -----------------------------------------------------------------------

    def _simulate(self, live: _Live, record: CaseRecord, values: Mapping[str, Any],
                  when: date) -> Outcome | None:
        """What completing the task with ``values`` would do, or None if it is refused."""
        self.simulations += 1
        runtime = self._runtime(live.pack_name, live.pack_version)
        try:
            with use_clock(FixedClock(_noon(when))):
                instance = self._instance(runtime, live)
                return runtime.complete(record, instance, live.ref, values, live.worker)
        except CarepathError:
            return None

    def _outcome(self, live: _Live, record: CaseRecord, values: Mapping[str, Any]) -> Outcome:
        """Complete the task on the current clock, as ``CaseService.complete_task`` would."""
        runtime = self._runtime(live.pack_name, live.pack_version)
        return runtime.complete(record, self._instance(runtime, live), live.ref, values,
                                live.worker)

    def _instance(self, runtime: CaseRuntime, live: _Live) -> LiveInstance:
        """The task's process instance as stored: the workflow the last write left, if the
        runner made it and nothing has used it since, else restored from its state."""
        stored, warm = self._warm.pop(live.instance_id, (None, None))
        if warm is None or stored is None or not (stored is live.state or stored == live.state):
            return runtime.restore(live.process_id, live.state, live.episode_seq,
                                   live.instance_id)
        return LiveInstance(live.process_id, live.episode_seq, live.pack_name,
                            live.pack_version, warm, db_id=live.instance_id, changed=False)

    def _commit(self, case_id: int, live: _Live, record: CaseRecord, outcome: Outcome) -> None:
        """Write a completion worked out in memory: one transaction, exactly as
        ``CaseService.complete_task`` writes its own (version check first, so if the case changed
        since this step read it nothing is written and ConflictError is raised)."""
        self.service.write_outcome(case_id, live.case_version, record, outcome, self.acting,
                                   task_id=live.view.id)
        for inst in outcome.instances:
            if inst.db_id is not None:
                if inst.status == "running":
                    self._warm[inst.db_id] = (None, inst.workflow)
                else:
                    self._warm.pop(inst.db_id, None)

    # -- choosing how to complete a task -------------------------------------------------

    def _form_info(self, form_id: str) -> _FormInfo:
        info = self._forms.get(form_id)
        if info is not None:
            return info
        form = self.pack.form(form_id)
        read = set(_pack_words(self.pack))
        for f in form.fields:
            if f.show_if is not None:
                read.update(f.show_if.names)
        decisions: list[Field] = []
        fixed: dict[str, Any] = {}
        for f in form.fields:
            if f.record or f.type not in (FieldType.CHOICE, FieldType.YESNO):
                continue
            options = _options(f)
            if f.name in read or not options:
                decisions.append(f)
            else:
                fixed[f.name] = options[0]
        info = _FormInfo(form, frozenset(f.record for f in form.fields if f.record), decisions,
                         fixed, frozenset(f.record for f in form.fields
                                          if f.record and f.required and f.show_if is None))
        self._forms[form_id] = info
        return info

    def _bests(self, step: _Step, lives: list[_Live], rejected: set[Any],
               on_day: date | None = None, memo: dict[int, _Candidate | None] | None = None
               ) -> tuple[list[_Candidate], list[tuple[TaskView, list[str]]]]:
        """Each task's best way to be completed, and the tasks the story cannot complete.
        With ``on_day``, only the tasks with a way to record an event of that day first: while
        one of them has its best on time, nothing chooses the others (their bests, which may
        take simulating every option, are worked out only if needed). ``memo`` keeps the
        bests worked out (by task id) for a second call in the same step."""
        bests: list[_Candidate] = []
        blocked: list[tuple[TaskView, list[str]]] = []
        for live in lives:
            if not live.view.form:
                continue
            info = self._form_info(live.view.form)
            candidates: list[_Candidate] = []
            missing_everywhere: list[str] | None = None
            for order, trial in enumerate(self._trials(info, step)):
                if trial.invalid:
                    continue
                if trial.missing:
                    if any(v.pending for v in trial.recorded):
                        missing_everywhere = missing_everywhere or trial.missing
                    continue
                candidate = _Candidate(step, live, info, trial, order)
                if candidate.key in rejected:
                    continue
                candidates.append(candidate)
            if on_day is not None and not any(c.recorded and c.first_key[0] == on_day
                                              for c in candidates):
                continue
            if memo is not None and live.view.id in memo:
                best = memo[live.view.id]
            else:
                best = _lazy_min(candidates)
                if memo is not None:
                    memo[live.view.id] = best
            if best is not None:
                bests.append(best)
            elif missing_everywhere:
                blocked.append((live.view, missing_everywhere))
        return bests, blocked

    def _trials(self, info: _FormInfo, step: _Step) -> list[_Trial]:
        given = step.given(info.items)
        choices = [_options(f) for f in info.decisions]
        names = [f.name for f in info.decisions]
        trials: list[_Trial] = []
        seen: set[Any] = set()
        record = record_context(step.record)  # what show_if reads of the record
        for combo in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
            chosen = dict(info.fixed)
            chosen.update(zip(names, combo, strict=True))
            trial = self._trial(info.form, given, chosen, step.today, record)
            key = _values_key(trial.values)
            if key in seen:
                continue  # the options differ only in questions the form then hides
            seen.add(key)
            trials.append(trial)
        return trials

    def _trial(self, form: Form, given: Mapping[str, StoryValue], chosen: dict[str, Any],
               today: date, record: Mapping[str, Any]) -> _Trial:
        values: dict[str, Any] = dict(chosen)
        for f in form.fields:
            if f.record and f.record in given:
                values[f.name] = given[f.record].value
        ctx = ValidationContext(today=today, names=record)
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
                if story_value.when is not None and story_value.when < today:
                    invalid = f"{f.record} would be back-dated to {story_value.when}"
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


def _given_up_key(index: int, event: PendingEvent) -> int:
    """The episode an event given up belongs to; -1 for the child's looked-after record."""
    return -1 if event.item.split(".", 1)[0] in LAC_NAMESPACES else index


LAC_NAMESPACES = frozenset(item.split(".", 1)[0] for item in LAC_OPENING) | {"uasc"}


def _options(f: Field) -> list[Any]:
    if f.type is FieldType.YESNO:
        return [True, False]
    return [o.value for o in f.options]


def _filler(f: Field, when: date) -> Any:
    """A value for a required question the story knows nothing about."""
    if f.type is FieldType.DATE:
        return when
    return f.example


__all__ = ["StoryResult", "StoryRunner", "TaskRef"]
