"""How the story runner chooses: the ways the story can complete each ready task, and their
score, worked out lazily.

For each ready task, a ``Trial`` per combination of the options of its decision questions (the
questions nothing reads are answered once), with what the story gives the form's record items;
a ``Candidate`` scores one trial in levels, the cheap ones first (events it would record out of
order, whether it closes the episode too early), the ones that need the task completed in
memory (``Step.simulate``: what work it opens, and whether that work could record the story's
next event) only while candidates are still tied (``lazy_min``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from carepath.engine.pack import Pack
from carepath.engine.record.case_record import CaseRecord
from carepath.engine.record.context import record_context
from carepath.engine.runtime import Outcome, TaskRef
from carepath.engine.stories.cursor import PendingEvent, StoryValue, story_values
from carepath.engine.stories.lac_cursor import OPENING as LAC_OPENING
from carepath.forms.schema import Field, FieldType, Form
from carepath.forms.validation import ValidationContext, visible_fields
from carepath.service.types import TaskView

MAX_COMBINATIONS = 64
# Items that add something each time they are recorded: recording one the story has already
# had would add a second.
ADDING = {"assessment.start", "s47.start", "cp_plan.start", "cin_plan.start", "cp_plan.review",
          "closure.date", "episode.emergency_protection",
          *(LAC_OPENING - {"outcomes.year"})}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Trial:
    values: dict[str, Any]
    recorded: list[StoryValue]
    missing: list[str]
    invalid: str | None = None


@dataclass(frozen=True)
class LiveWork:
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
class FormInfo:
    form: Form
    items: frozenset[str]
    decisions: list[Field]  # tried option by option
    fixed: dict[str, Any]  # decisions nothing reads: answered once
    # record items the form always asks for (required, no show_if): a task of the form can be
    # completed only on a story that gives them
    needs: frozenset[str] = frozenset()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def values_key(values: Mapping[str, Any]) -> Any:
    return _freeze(dict(values))


_PACK_WORDS: dict[int, tuple[Pack, frozenset[str]]] = {}


def pack_words(pack: Pack) -> frozenset[str]:
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


class Candidate:
    """One way to complete one task, scored lazily: the parts of the score that need the task
    completed in memory are worked out only when a choice depends on them."""

    def __init__(self, step: Step, live: LiveWork, info: FormInfo, trial: Trial,
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
        return (self.live.view.id, values_key(self.trial.values))

    @property
    def first_key(self) -> tuple[date, int]:
        return min(v.key for v in self.recorded)

    def simulate(self) -> bool:
        """Complete the task in memory; False if the engine refuses the values."""
        if not self._simulated:
            self._simulated = True
            self._outcome = self.step.simulate(self.live, self.step.record,
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


def lazy_min(candidates: Sequence[Candidate],
              prefix: Callable[[Candidate], Any] | None = None,
              after: Callable[[Candidate], Any] | None = None) -> Candidate | None:
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


class Step:
    """What one step of the runner knows: the record, the story's pending events, today."""

    def __init__(self, choices: Choices, simulate: Simulate,
                 looked_after: Mapping[str, Any] | None, child: Mapping[str, Any],
                 target: Mapping[str, Any], record: CaseRecord, pending: list[PendingEvent],
                 today: date) -> None:
        self.choices = choices
        self.simulate = simulate
        self.looked_after = looked_after
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
                                 self.looked_after)
            self._given[items] = found
        return found

    def covered(self, outcome: Outcome) -> set[tuple[str, date | None]]:
        """The pending items the tasks an outcome opens could record next."""
        covered: set[tuple[str, date | None]] = set()
        for new in outcome.opened:
            if not new.task.form:
                continue
            info = self.choices.form_info(new.task.form)
            values = story_values(self.child, self.target, outcome.record, info.items,
                                  self.looked_after)
            if not info.needs <= set(values):
                continue  # it asks for what the story does not give: it records nothing
            for v in values.values():
                if v.pending:
                    covered.add((v.item, v.when))
        return covered


class Choices:
    """The ways the story can complete a pack's tasks (one ``Trial`` per combination of the
    options of its decision questions), and each task's best, scored lazily. Forms are worked
    out once per runner."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self._forms: dict[str, FormInfo] = {}

    def form_info(self, form_id: str) -> FormInfo:
        info = self._forms.get(form_id)
        if info is not None:
            return info
        form = self.pack.form(form_id)
        read = set(pack_words(self.pack))
        for f in form.fields:
            if f.show_if is not None:
                read.update(f.show_if.names)
        decisions: list[Field] = []
        fixed: dict[str, Any] = {}
        for f in form.fields:
            if f.record or f.type not in (FieldType.CHOICE, FieldType.YESNO):
                continue
            offered = options(f)
            if f.name in read or not offered:
                decisions.append(f)
            else:
                fixed[f.name] = offered[0]
        info = FormInfo(form, frozenset(f.record for f in form.fields if f.record), decisions,
                         fixed, frozenset(f.record for f in form.fields
                                          if f.record and f.required and f.show_if is None))
        self._forms[form_id] = info
        return info

    def bests(self, step: Step, lives: list[LiveWork], rejected: set[Any],
               on_day: date | None = None, memo: dict[int, Candidate | None] | None = None
               ) -> tuple[list[Candidate], list[tuple[TaskView, list[str]]]]:
        """Each task's best way to be completed, and the tasks the story cannot complete.
        With ``on_day``, only the tasks with a way to record an event of that day first: while
        one of them has its best on time, nothing chooses the others (their bests, which may
        take simulating every option, are worked out only if needed). ``memo`` keeps the
        bests worked out (by task id) for a second call in the same step."""
        bests: list[Candidate] = []
        blocked: list[tuple[TaskView, list[str]]] = []
        for live in lives:
            if not live.view.form:
                continue
            info = self.form_info(live.view.form)
            candidates: list[Candidate] = []
            missing_everywhere: list[str] | None = None
            for order, trial in enumerate(self.trials(info, step)):
                if trial.invalid:
                    continue
                if trial.missing:
                    if any(v.pending for v in trial.recorded):
                        missing_everywhere = missing_everywhere or trial.missing
                    continue
                candidate = Candidate(step, live, info, trial, order)
                if candidate.key in rejected:
                    continue
                candidates.append(candidate)
            if on_day is not None and not any(c.recorded and c.first_key[0] == on_day
                                              for c in candidates):
                continue
            if memo is not None and live.view.id in memo:
                best = memo[live.view.id]
            else:
                best = lazy_min(candidates)
                if memo is not None:
                    memo[live.view.id] = best
            if best is not None:
                bests.append(best)
            elif missing_everywhere:
                blocked.append((live.view, missing_everywhere))
        return bests, blocked

    def trials(self, info: FormInfo, step: Step) -> list[Trial]:
        given = step.given(info.items)
        choices = [options(f) for f in info.decisions]
        names = [f.name for f in info.decisions]
        trials: list[Trial] = []
        seen: set[Any] = set()
        record = record_context(step.record)  # what show_if reads of the record
        for combo in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
            chosen = dict(info.fixed)
            chosen.update(zip(names, combo, strict=True))
            trial = self.trial(info.form, given, chosen, step.today, record)
            key = values_key(trial.values)
            if key in seen:
                continue  # the options differ only in questions the form then hides
            seen.add(key)
            trials.append(trial)
        return trials

    def trial(self, form: Form, given: Mapping[str, StoryValue], chosen: dict[str, Any],
               today: date, record: Mapping[str, Any]) -> Trial:
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
        return Trial(final, recorded, missing, invalid)


def options(f: Field) -> list[Any]:
    if f.type is FieldType.YESNO:
        return [True, False]
    return [o.value for o in f.options]


def _filler(f: Field, when: date) -> Any:
    """A value for a required question the story knows nothing about."""
    if f.type is FieldType.DATE:
        return when
    return f.example


# completes a task in memory with the values on the day (None: the engine refused them)
Simulate = Callable[[LiveWork, CaseRecord, Mapping[str, Any], date], Outcome | None]

__all__ = ["ADDING", "Candidate", "Choices", "FormInfo", "LiveWork", "Simulate", "Step", "Trial",
           "lazy_min", "values_key"]
