"""``carepath migrate --jobs N``: one run's cases moved by N processes at once.

The run is begun once (:meth:`MigrationService.begin_run`: the selection and the target checked,
``pack check`` run, the run recorded); then each of N worker processes opens the database itself
and moves the cases whose id is its number modulo N (:meth:`MigrationService.run_share`), so no
two workers meet the same case. Each case still moves in its own transaction with the usual
version check, so a worker stopped half-way leaves every case either moved or untouched, and
``migrate undo RUN_ID`` undoes the run whatever process moved each case. The reports come back
through a bounded queue and are yielded as they arrive (memory does not grow with the
caseload); their order is the order the workers finish cases in.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from collections.abc import Iterator
from typing import Any

from carepath.core.errors import CarepathError
from carepath.service.migration_types import CaseReport, RunSpec

__all__ = ["parallel_share", "run_in_parallel"]

QUEUE_SIZE = 256  # reports waiting for the parent at most
POLL_S = 1.0  # how often the parent looks whether a silent worker has died


def parallel_share(url: str, spec: RunSpec, part: int, parts: int, out: Any) -> None:
    """In a worker process: move this part of the run and put each report on ``out``, then
    ("done", part). A failure is sent as ("error", message): never a form value or a name."""
    from carepath.adapters.app import migration_service
    from carepath.adapters.db.database import make_engine

    try:
        service = migration_service(make_engine(url))
        service.check = None  # the parent checked the target before the run began
        for report in service.run_share(spec, part, parts):
            out.put(("case", report))
    except CarepathError as exc:
        out.put(("error", f"worker {part + 1} of {parts} stopped: {exc.message}"))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        out.put(("error", f"worker {part + 1} of {parts} stopped: {type(exc).__name__}"))
        return
    out.put(("done", part))


def run_in_parallel(url: str, spec: RunSpec, jobs: int) -> Iterator[CaseReport]:
    """Move the run's cases with ``jobs`` worker processes on the database at ``url``; yield
    each case's report as it arrives. Raises :class:`CarepathError` if a worker fails (the
    cases moved so far stay moved: the run can be undone by its id)."""
    if jobs < 1:
        raise CarepathError(f"--jobs must be 1 or more (not {jobs})")
    context = multiprocessing.get_context("spawn")
    out = context.Queue(QUEUE_SIZE)
    workers = [context.Process(target=parallel_share, args=(url, spec, k, jobs, out),
                               name=f"carepath-migrate-{k + 1}", daemon=True)
               for k in range(jobs)]
    for worker in workers:
        worker.start()
    done: set[int] = set()
    failure: str | None = None
    try:
        while len(done) < jobs and failure is None:
            try:
                kind, value = out.get(timeout=POLL_S)
            except queue_module.Empty:
                dead = [k for k, w in enumerate(workers) if not w.is_alive() and k not in done]
                if dead and out.empty():
                    failure = (f"worker {dead[0] + 1} of {jobs} stopped without finishing "
                               f"(exit code {workers[dead[0]].exitcode})")
                continue
            if kind == "case":
                yield value
            elif kind == "done":
                done.add(value)
            else:
                failure = value
    finally:
        if failure is not None or len(done) < jobs:
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
        for worker in workers:
            worker.join()
    if failure is not None:
        undo = f"; undo the cases moved so far with carepath migrate undo {spec.run_id}" \
            if spec.run_id else ""
        raise CarepathError(failure + undo)
