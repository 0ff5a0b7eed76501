"""``carepath simulate --jobs N``: one seed's children recorded by N processes at once.

The parent checks once that the seed's children are new to the database; then each worker
process (:func:`carepath.adapters.parallel.run_parts`) opens the database itself and records
the children whose place in the seed's sequence is its number modulo N
(``simulate(..., part=k, parts=N)``), in batches worked out in memory and written in bulk: the
batches of different workers are written in turn, each taking the database's next ids then
(:mod:`carepath.adapters.db.bulk_cases`). A child that cannot be recorded stops the run; the
batches written before it stay.
"""

from __future__ import annotations

import time
from functools import partial

from carepath.adapters.parallel import Put, run_parts
from carepath.service.cases import CaseService
from carepath.service.simulation import Progress, SimulationSummary, check_new_seed

__all__ = ["simulate_in_parallel"]


def simulate_part(url: str, no_sync: bool, pack_name: str, children: int, seed: int,
                  year: int, looked_after: bool, part: int, parts: int, put: Put) -> None:
    """In a worker process: record this part of the children; put ("child", None) for each
    child written, then ("summary", (cases, tasks, case ids))."""
    from carepath.adapters.app import case_service
    from carepath.adapters.db.bulk_cases import SqlCaseBatches
    from carepath.adapters.db.database import make_engine
    from carepath.adapters.db.scratch import sqlite_file, throwaway_engine
    from carepath.service.simulation import simulate

    path = sqlite_file(url) if no_sync else None
    engine = throwaway_engine(path) if path is not None else make_engine(url)
    try:
        service = case_service(engine)
        summary = simulate(service, service.packs.get(pack_name), children, seed, year,
                           looked_after=looked_after, part=part, parts=parts,
                           check_fresh=False,
                           batches=SqlCaseBatches(engine, service.cases.upn_holders),
                           progress=lambda done, total, result: put(("child", None)))
    finally:
        if path is not None:
            engine.dispose()
    put(("summary", (summary.cases, summary.tasks, summary.case_ids)))


def simulate_in_parallel(url: str, no_sync: bool, pack_name: str, children: int, seed: int,
                         year: int, looked_after: bool, jobs: int, service: CaseService,
                         progress: Progress | None = None) -> SimulationSummary:
    """Record ``children`` of ``seed`` with ``jobs`` worker processes on the database at
    ``url`` (``service``: a case service on it, for the check that the seed is new)."""
    check_new_seed(service, seed)
    started = time.perf_counter()
    done = cases = tasks = 0
    case_ids: list[int] = []
    work = partial(simulate_part, url, no_sync, pack_name, children, seed, year, looked_after)
    for kind, value in run_parts(work, jobs, "simulate"):
        if kind == "child":
            done += 1
            if progress is not None:
                progress(done, children, None)
        else:
            cases += value[0]
            tasks += value[1]
            case_ids += value[2]
    return SimulationSummary(children, cases, tasks, time.perf_counter() - started,
                             sorted(case_ids))
