"""What-if experiments behind the proposals in BENCHMARKS.md (not part of ``python -m bench``).

    python -m bench.whatif [--checkpoints 10,1000,5000] [--samples 30]

Runs figure 1's measurement (one SQLite case, review completions through the real store) twice
in one process, interleaved checkpoint by checkpoint: as carepath is, and with ONE change patched
in for the duration of the variant:

* ``structural-copy``: the record copies the runtime makes on every completion (``deepcopy`` of
  the whole ``CaseRecord``, twice) replaced by a structural copy that shares the immutable leaves
  (dates, strings) - what a ``CaseRecord.copy()`` in the engine would do.

Nothing in carepath/ is edited: the patch is applied to the running process only.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session

from bench.cases import CaseDriver, fill_reviews, noon, record_script
from bench.common import database, median, percentile
from bench.history import review_day
from carepath.adapters.db.store import CaseStore
from carepath.adapters.packs import PackRegistry
from carepath.engine.clock import FixedClock, use_clock


def structural_copy(value: Any) -> Any:
    """A deep copy of dataclasses, lists and dicts that shares immutable leaves."""
    if is_dataclass(value) and not isinstance(value, type):
        return type(value)(**{f.name: structural_copy(getattr(value, f.name))
                              for f in fields(value) if f.init})
    if isinstance(value, list):
        return [structural_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: structural_copy(v) for k, v in value.items()}
    return value  # date, str, int, bool, None: immutable


@contextmanager
def structural_record_copies() -> Iterator[None]:
    from carepath.engine import record_model

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, record_model.CaseRecord):
            return structural_copy(value)
        return copy.deepcopy(value, memo)

    shim = SimpleNamespace(**{name: getattr(copy, name) for name in dir(copy)
                              if not name.startswith("__")})
    shim.deepcopy = deepcopy
    patched = [m for name, m in list(sys.modules.items())
               if name.startswith("carepath.engine.") and getattr(m, "copy", None) is copy]
    for module in patched:
        module.copy = shim  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in patched:
            module.copy = copy  # type: ignore[attr-defined]


VARIANTS = {"as is": None, "structural-copy": structural_record_copies}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif")
    parser.add_argument("--checkpoints", default="10,1000,5000")
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args(argv)
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    script = record_script()
    walk = script.walk_to_first_review()
    results: dict[str, dict[int, list[float]]] = {v: {} for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="carepath-whatif-") as tmp, \
            database("sqlite", Path(tmp), None, "whatif") as db:
        store = CaseStore(db.engine, PackRegistry())
        clock = FixedClock(script.opened_at)
        drivers = {v: CaseDriver(store, script, i, clock) for i, v in enumerate(VARIANTS)}
        reviews = {v: 0 for v in VARIANTS}
        for driver in drivers.values():
            driver.replay(walk, clock)
        for checkpoint in checkpoints:
            for variant, driver in drivers.items():
                target = checkpoint - len(walk)
                with use_clock(clock):
                    while reviews[variant] < min(target, 2):
                        clock.set(noon(review_day(reviews[variant])))
                        driver.complete("cp_review",
                                        script.review_values(review_day(reviews[variant])))
                        reviews[variant] += 1
                if reviews[variant] < target:
                    with Session(db.engine) as session, session.begin():
                        fill_reviews(session, driver.case_id, target - reviews[variant],
                                     reviews[variant])
                    reviews[variant] = target
            samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
            with use_clock(clock):
                for _ in range(args.samples):  # interleaved: a completion of each variant
                    for variant, driver in drivers.items():
                        day = review_day(reviews[variant])
                        clock.set(noon(day))
                        values = script.review_values(day)
                        patch = VARIANTS[variant]
                        with patch() if patch else _nothing():
                            start = time.perf_counter()
                            driver.complete("cp_review", values)
                            samples[variant].append((time.perf_counter() - start) * 1000)
                        reviews[variant] += 1
            for variant in VARIANTS:
                results[variant][checkpoint] = samples[variant]
            print(f"{checkpoint:>6} prior tasks: " + "; ".join(
                f"{v} p50 {median(s):.1f} ms p99 {percentile(s, 99):.1f} ms"
                for v, s in samples.items()), flush=True)
    first = checkpoints[0]
    for variant, by in results.items():
        ratios = ", ".join(f"{c}/{first}: {median(by[c]) / median(by[first]):.2f}"
                           for c in checkpoints[1:])
        print(f"{variant}: {ratios}")
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    sys.exit(main())
