"""``carepath migrate --jobs N``: one run's cases moved by N processes at once.

The run is begun once (:meth:`MigrationService.begin_run`: the selection and the target checked,
``pack check`` run, the run recorded); then each of N worker processes
(:func:`carepath.adapters.parallel.run_parts`) opens the database itself and moves the cases
whose id is its number modulo N (:meth:`MigrationService.run_share`), so no two workers meet
the same case. Each case still moves in its own transaction with the usual version check, so a
worker stopped half-way leaves every case either moved or untouched, and ``migrate undo
RUN_ID`` undoes the run whatever process moved each case. The reports are yielded as they
arrive; their order is the order the workers finish cases in.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from carepath.adapters.parallel import Put, run_parts
from carepath.core.errors import CarepathError
from carepath.service.migration_types import CaseReport, RunSpec

__all__ = ["parallel_share", "run_in_parallel"]


def parallel_share(url: str, spec: RunSpec, part: int, parts: int, put: Put) -> None:
    """In a worker process: move this part of the run, putting each case's report."""
    from carepath.adapters.app import migration_service
    from carepath.adapters.db.database import make_engine

    service = migration_service(make_engine(url))
    service.check = None  # the parent checked the target before the run began
    for report in service.run_share(spec, part, parts):
        put(report)


def run_in_parallel(url: str, spec: RunSpec, jobs: int) -> Iterator[CaseReport]:
    """Move the run's cases with ``jobs`` worker processes on the database at ``url``; yield
    each case's report as it arrives. Raises :class:`CarepathError` if a worker fails (the
    cases moved so far stay moved: the run can be undone by its id)."""
    try:
        yield from run_parts(partial(parallel_share, url, spec), jobs, "migrate")
    except CarepathError as exc:
        if jobs < 1 or not spec.run_id:
            raise
        raise CarepathError(f"{exc.message}; undo the cases moved so far with carepath "
                            f"migrate undo {spec.run_id}") from None
