"""Simulated caseloads: generated stories run through a pack into a database.

:func:`simulate` takes ``n`` stories from
:func:`carepath.engine.simulation.generator.generate_stories` and records each one with the story
runner, as a caseworker would, through the application service: the cases, tasks, events and
records are those a council's use of the pack would leave. It is how the benchmarks get their
data, and how the tests check that every path of a pack keeps the record the returns need.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from carepath.core.errors import CarepathError
from carepath.engine.pack import Pack
from carepath.engine.simulation.generator import SimulationError, child_id, generate_stories
from carepath.service.cases import CaseService
from carepath.service.stories import StoryResult, StoryRunner
from carepath.service.types import JsonObject

__all__ = ["SimulationSummary", "simulate"]

# (children done, children in all, the story's result)
Progress = Callable[[int, int, StoryResult], None]


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


def _check_fresh(service: CaseService, seed: int) -> None:
    if service.cases.case_by_child(child_id(seed, 0)) is not None:
        raise SimulateError(
            f"The children of seed {seed} ({child_id(seed, 0)}, ...) are already in this "
            "database: use another --seed or another database")


def simulate(service: CaseService, pack: Pack, children: int, seed: int, year: int = 2026,
             progress: Progress | None = None, check_record: bool = False,
             looked_after: bool | float = False) -> SimulationSummary:
    """Generate ``children`` stories (``seed``, collection year ending 31 March ``year``) and
    record each one on ``pack`` through ``service``. ``progress`` is called after each child.
    ``looked_after``: some children are looked after (see ``generate_stories``)."""
    try:
        stories = generate_stories(children, seed, year, calendar=pack.timescales.calendar,
                                   looked_after=looked_after)
    except SimulationError as exc:
        raise SimulateError(str(exc)) from None
    if children:
        _check_fresh(service, seed)
    runner = StoryRunner(service, pack, actor="simulator", worker="sim.worker",
                         check_record=check_record)
    started = time.perf_counter()
    case_ids: list[int] = []
    tasks = 0
    for done, story in enumerate(stories, start=1):
        try:
            result = runner.run(story)
        except CarepathError as exc:
            raise SimulateError(f"Simulated child {story['child']['la_child_id']} (seed {seed}) "
                                f"could not be recorded on {pack.key}: {exc}") from exc
        if result.unrecorded:
            missed = "; ".join(str(u) for u in result.unrecorded)
            raise SimulateError(f"Simulated child {story['child']['la_child_id']} (seed {seed}) "
                                f"could not be fully recorded on {pack.key}: {missed}")
        case_ids.extend(result.case_ids)
        tasks += result.completed
        if progress is not None:
            progress(done, children, result)
    seconds = time.perf_counter() - started
    return SimulationSummary(children, len(set(case_ids)), tasks, seconds, case_ids)
