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
(for tests). The ways to complete a task and their scoring are in :mod:`story_choices`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
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
from carepath.engine.runtime import CaseRuntime, LiveInstance, Outcome, TaskRef
from carepath.engine.stories.cursor import (
    PendingEvent,
    pending_events,
    pending_looked_after,
)
from carepath.engine.stories.lac_cursor import OPENING as LAC_OPENING
from carepath.engine.time.clock import FixedClock, today, use_clock
from carepath.engine.workflow import WorkflowInstance
from carepath.forms.validation import ValidationContext
from carepath.service.cases import CaseService
from carepath.service.story_choices import Candidate, Choices, LiveWork, Step, lazy_min
from carepath.service.story_report import (
    Unrecorded,
    event_path,
    unrecorded,
    why_unrecorded,
)
from carepath.service.types import Actor, TaskView

LONDON = ZoneInfo("Europe/London")
MAX_IDLE_STEPS = 12
MAX_STEPS = 2_000


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


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), LONDON).astimezone(UTC)


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
        self.choices = Choices(pack)
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
            step = Step(self.choices, self._simulate, self.looked_after, child, target,
                        record, pending, day)
            worked_out: dict[int, Candidate | None] = {}
            bests, blocked = self.choices.bests(step, lives, rejected, first.when, worked_out)
            # what records the story's earliest pending events (on their day) comes first
            on_time = [c for c in bests if c.recorded and c.first_key[0] == first.when]
            chosen: Candidate | None = None
            if on_time:
                chosen = lazy_min(on_time, prefix=lambda c: c.first_key,
                                   after=lambda c: c.live.view.id)
            else:
                bests, blocked = self.choices.bests(step, lives, rejected, memo=worked_out)
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
                        chosen = lazy_min(reaching, after=lambda c: c.live.view.id)
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

    def _take_action(self, case_id: int, step: Step, lives: list[LiveWork], clock: FixedClock,
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

    def _ready(self, case_id: int) -> tuple[list[TaskView], list[LiveWork]]:
        """The case's ready tasks (as ``CaseService.tasks`` lists them) with their instances."""
        tasks: list[TaskView] = []
        lives: list[LiveWork] = []
        for work in self.service.cases.ready_work(case_id):
            warm = self._warm.get(work.instance_id)
            if warm is not None and warm[0] is None:
                self._warm[work.instance_id] = (work.state, warm[1])
            tasks.append(work.view)
            lives.append(LiveWork(work.view, work.ref, work.instance_id, work.view.process,
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

    def _simulate(self, live: LiveWork, record: CaseRecord, values: Mapping[str, Any],
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

    def _outcome(self, live: LiveWork, record: CaseRecord, values: Mapping[str, Any]) -> Outcome:
        """Complete the task on the current clock, as ``CaseService.complete_task`` would."""
        runtime = self._runtime(live.pack_name, live.pack_version)
        return runtime.complete(record, self._instance(runtime, live), live.ref, values,
                                live.worker)

    def _instance(self, runtime: CaseRuntime, live: LiveWork) -> LiveInstance:
        """The task's process instance as stored: the workflow the last write left, if the
        runner made it and nothing has used it since, else restored from its state."""
        stored, warm = self._warm.pop(live.instance_id, (None, None))
        if warm is None or stored is None or not (stored is live.state or stored == live.state):
            return runtime.restore(live.process_id, live.state, live.episode_seq,
                                   live.instance_id)
        return LiveInstance(live.process_id, live.episode_seq, live.pack_name,
                            live.pack_version, warm, db_id=live.instance_id, changed=False)

    def _commit(self, case_id: int, live: LiveWork, record: CaseRecord, outcome: Outcome) -> None:
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

def _given_up_key(index: int, event: PendingEvent) -> int:
    """The episode an event given up belongs to; -1 for the child's looked-after record."""
    return -1 if event.item.split(".", 1)[0] in LAC_NAMESPACES else index


LAC_NAMESPACES = frozenset(item.split(".", 1)[0] for item in LAC_OPENING) | {"uasc"}


__all__ = ["StoryResult", "StoryRunner", "TaskRef"]
