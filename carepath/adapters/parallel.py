"""Work shared by N worker processes (``migrate --jobs``, ``simulate --jobs``).

Each worker is a fresh process (``spawn``: nothing of the parent's state, database connections
included, is inherited) that runs ``work(part, parts, put)`` for its part and sends what it
puts through a bounded queue; the parent yields the items as they arrive (memory does not grow
with the work). A worker that fails sends its reason (a carepath error's message, or only the
exception's type: never a form value or a name); the parent then stops the others and raises
it as a :class:`CarepathError`.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from collections.abc import Callable, Iterator
from typing import Any

from carepath.core.errors import CarepathError

__all__ = ["Put", "Work", "run_parts"]

QUEUE_SIZE = 256  # items waiting for the parent at most
POLL_S = 1.0  # how often the parent looks whether a silent worker has died

Put = Callable[[Any], None]
# (part, parts, put): must pickle (a module-level function, or a functools.partial of one)
Work = Callable[[int, int, Put], None]


def _part(work: Work, part: int, parts: int, out: Any) -> None:
    def put(item: Any) -> None:
        out.put(("item", item))

    try:
        work(part, parts, put)
    except CarepathError as exc:
        out.put(("error", f"worker {part + 1} of {parts} stopped: {exc.message}"))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        out.put(("error", f"worker {part + 1} of {parts} stopped: {type(exc).__name__}"))
        return
    out.put(("done", part))


def run_parts(work: Work, jobs: int, name: str) -> Iterator[Any]:
    """Run ``work`` in ``jobs`` processes (named ``carepath-NAME-K``); yield what they put.
    Raises :class:`CarepathError` if a worker fails or dies."""
    if jobs < 1:
        raise CarepathError(f"--jobs must be 1 or more (not {jobs})")
    context = multiprocessing.get_context("spawn")
    out = context.Queue(QUEUE_SIZE)
    workers = [context.Process(target=_part, args=(work, k, jobs, out),
                               name=f"carepath-{name}-{k + 1}", daemon=True)
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
            if kind == "item":
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
        raise CarepathError(failure)
