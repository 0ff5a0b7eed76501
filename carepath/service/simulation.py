"""Simulated caseloads: generated stories run through a pack into a database.

:func:`simulate` takes ``n`` stories from
:func:`carepath.engine.simulation.generator.generate_stories` and records each one with the story
runner, as a caseworker would, through the application service: the cases, tasks, events and
records are those a council's use of the pack would leave. It is how the benchmarks get their
data, and how the tests check that every path of a pack keeps the record the returns need.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from carepath.core.errors import CarepathError
from carepath.engine.pack import Pack
from carepath.engine.simulation.generator import SimulationError, child_id, generate_stories
from carepath.service.cases import CaseService
from carepath.service.ports import CaseBatches
from carepath.service.stories import StoryResult, StoryRunner
from carepath.service.types import JsonObject

__all__ = ["SimulationSummary", "simulate"]

# (children done, children in all, the story's result: None when another process recorded it)
Progress = Callable[[int, int, StoryResult | None], None]


class SimulateError(CarepathError):
    """A simulation cannot run as asked."""


@dataclass
class SimulationSummary:
    children: int
    cases: int
    tasks: int
    seconds: float
    case_ids: list[int]

    @property
    def ms_per_child(self) -> float:
        return 1000 * self.seconds / self.children if self.children else 0.0

    def as_json(self) -> JsonObject:
        return {"children": self.children, "cases": self.cases, "tasks": self.tasks,
                "seconds": round(self.seconds, 3)}


def check_new_seed(service: CaseService, seed: int) -> None:
    """SimulateError if the seed's children are already in the database."""
    if service.cases.case_by_child(child_id(seed, 0)) is not None:
        raise SimulateError(
            f"The children of seed {seed} ({child_id(seed, 0)}, ...) are already in this "
            "database: use another --seed or another database")


BATCH = 200  # children a batch works out in memory before it is written (``batches``)


def simulate(service: CaseService, pack: Pack, children: int, seed: int, year: int = 2026,
             progress: Progress | None = None, check_record: bool = False,
             looked_after: bool | float = False, batches: CaseBatches | None = None,
             part: int = 0, parts: int = 1, check_fresh: bool = True) -> SimulationSummary:
    """Generate ``children`` stories (``seed``, collection year ending 31 March ``year``) and
    record each one on ``pack`` through ``service``. ``progress`` is called after each child.
    ``looked_after``: some children are looked after (see ``generate_stories``).

    With ``batches``, children are recorded ``BATCH`` at a time on an in-memory case store and
    each batch is then written in bulk (the same rows, far fewer statements; ``progress`` is
    called for a batch's children once it is written); without, each step is written as it is
    taken. A child that cannot be recorded stops the run: the children before it stay
    recorded (with ``batches``, those of earlier batches).

    ``part`` of ``parts``: only the children whose place in the seed's sequence is ``part``
    modulo ``parts`` (several processes sharing one simulation; ``check_fresh`` False when the
    caller checked the seed is new before they started)."""
    if not 0 <= part < parts:
        raise SimulateError(f"There is no part {part} of {parts}")
    try:
        generated = generate_stories(children, seed, year, calendar=pack.timescales.calendar,
                                     looked_after=looked_after)
    except SimulationError as exc:
        raise SimulateError(str(exc)) from None
    if children and check_fresh:
        check_new_seed(service, seed)
    stories = (s for i, s in enumerate(generated) if i % parts == part)
    share = len(range(part, children, parts))
    started = time.perf_counter()
    case_ids: list[int] = []
    tasks = 0
    done = 0

    def count(result: StoryResult) -> None:
        nonlocal done, tasks
        done += 1
        case_ids.extend(result.case_ids)
        tasks += result.completed
        if progress is not None:
            progress(done, share, result)

    if batches is None:
        runner = StoryRunner(service, pack, actor="simulator", worker="sim.worker",
                             check_record=check_record)
        for story in stories:
            count(_run_one(runner, story, seed, pack))
    while batches is not None:
        chunk = list(itertools.islice(stories, BATCH))
        if not chunk:
            break
        results: list[StoryResult] = []
        with batches.batch() as batch:
            runner = StoryRunner(CaseService(batch.cases, service.packs), pack,
                                 actor="simulator", worker="sim.worker",
                                 check_record=check_record)
            for story in chunk:
                try:
                    results.append(_run_one(runner, story, seed, pack))
                except SimulateError as exc:
                    raise SimulateError(f"{exc}. Nothing of its batch was written: the {done} "
                                        "children before that batch are recorded") from exc
        for result in results:
            result.case_ids = [batch.stored_id(i) for i in result.case_ids]
            count(result)
    seconds = time.perf_counter() - started
    return SimulationSummary(share, len(set(case_ids)), tasks, seconds, case_ids)


def _run_one(runner: StoryRunner, story: Mapping[str, Any], seed: int,
             pack: Pack) -> StoryResult:
    try:
        result = runner.run(story)
    except CarepathError as exc:
        raise SimulateError(f"Simulated child {story['child']['la_child_id']} (seed {seed}) "
                            f"could not be recorded on {pack.key}: {exc}") from exc
    if result.unrecorded:
        missed = "; ".join(str(u) for u in result.unrecorded)
        raise SimulateError(f"Simulated child {story['child']['la_child_id']} (seed {seed}) "
                            f"could not be fully recorded on {pack.key}: {missed}")
    return result
