"""Simulated caseloads: generated stories run through a pack into a database.

:func:`simulate` takes ``n`` stories from ``carepath.engine.simulation.generator.generate_stories`` and records
each one with the story runner, as a caseworker would, through the real store: the cases, tasks,
events and records are those a council's use of the pack would leave. It is how the demo caseload
and the benchmarks get their data, and how the tests check that every path of a pack keeps the
record the returns need.

:func:`throwaway_engine` is for databases nobody needs to keep (tests, benchmarks, ``pack test``):
SQLite that does not wait for the disk (``PRAGMA synchronous=OFF``), or in memory. A crash can
corrupt such a file. It is never what carepath uses for real data (``database.make_engine``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from carepath.adapters.db import models as m
from carepath.adapters.db.store import CaseStore
from carepath.adapters.stories import StoryResult, StoryRunner
from carepath.core.errors import CarepathError
from carepath.engine.pack import Pack
from carepath.engine.simulation.generator import SimulationError, child_id, generate_stories

__all__ = ["SimulationSummary", "simulate", "throwaway_engine", "memory_engine"]

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

    def as_json(self) -> dict[str, Any]:
        return {"children": self.children, "cases": self.cases, "tasks": self.tasks,
                "seconds": round(self.seconds, 3)}


def _fast_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def throwaway_engine(path: str | Path) -> Engine:
    """A SQLite engine on the file ``path`` that does not wait for the disk: for throwaway
    databases only (a crash can lose or corrupt it). Not cached: dispose it when done."""
    engine = create_engine(f"sqlite:///{Path(path)}")
    event.listen(engine, "connect", _fast_sqlite)
    return engine


def memory_engine(connection: sqlite3.Connection | None = None) -> Engine:
    """An engine on one in-memory SQLite database (``connection``, or a new one)."""
    conn = connection or sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("PRAGMA foreign_keys=ON")
    return create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)


def sqlite_file(url: str) -> str | None:
    """The file of a ``sqlite:///FILE`` URL (None for other databases or memory)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            name = url[len(prefix):].split("?", 1)[0]
            return name if name and name != ":memory:" else None
    return None


def _check_fresh(store: CaseStore, seed: int) -> None:
    with Session(store.engine) as session:
        taken = session.scalars(
            select(m.CaseRow.la_child_id).where(m.CaseRow.la_child_id == child_id(seed, 0))
        ).first()
    if taken is not None:
        raise SimulateError(
            f"The children of seed {seed} ({child_id(seed, 0)}, ...) are already in this "
            "database: use another --seed or another database")


def simulate(store: CaseStore, pack: Pack, children: int, seed: int, year: int = 2026,
             progress: Progress | None = None, check_record: bool = False) -> SimulationSummary:
    """Generate ``children`` stories (``seed``, collection year ending 31 March ``year``) and
    record each one on ``pack`` through ``store``. ``progress`` is called after each child."""
    try:
        stories = generate_stories(children, seed, year, calendar=pack.timescales.calendar)
    except SimulationError as exc:
        raise SimulateError(str(exc)) from None
    if children:
        _check_fresh(store, seed)
    runner = StoryRunner(store, pack, actor="simulator", worker="sim.worker",
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
        case_ids.extend(result.case_ids)
        tasks += result.completed
        if progress is not None:
            progress(done, children, result)
    seconds = time.perf_counter() - started
    return SimulationSummary(children, len(set(case_ids)), tasks, seconds, case_ids)
