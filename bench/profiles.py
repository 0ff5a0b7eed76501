"""cProfile of the measured operations, for targets the run missed (written to bench/profiles/).

``completion``: one SQLite case walked to a child protection plan, its history brought to N prior
completed tasks (as in figure 1), then M review completions under cProfile. The text files show
the cumulative and the own-time views; the hot path's own functions (store, runtime, workflow,
records, record) are listed first so that the cost per layer reads at a glance.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from pathlib import Path

from sqlalchemy.orm import Session

from bench.cases import CaseDriver, Script, fill_reviews, noon
from bench.common import ROOT, database, log, median, ms
from bench.history import review_day
from carepath.adapters.packs import PackRegistry
from carepath.engine.time.clock import FixedClock, use_clock
from tests.casework import Casework as CaseStore

PROFILE_DIR = ROOT / "profiles"
LAYERS = r"carepath/(adapters/db/(store|hotpath|fastexec|records|audit|database)|engine/(runtime" \
         r"|workflow|record|timescales|bpmn)|forms/validation)\.py"


def profile_completions(script: Script, workdir: Path, prior: int, samples: int,
                        name: str, cold: bool = False) -> Path:
    """Profile ``samples`` completions of a case with ``prior`` completed tasks behind it; with
    ``cold``, each by a store that has not seen the case (the record read from the database)."""
    with database("sqlite", workdir, None, f"profile_{prior}") as db:
        packs = PackRegistry()
        store = CaseStore(db.engine, packs)
        clock = FixedClock(script.opened_at)
        driver = CaseDriver(store, script, 0, clock)
        walk = script.walk_to_first_review()
        driver.replay(walk, clock)
        target = prior - len(walk)
        real = min(target, 5)
        reviews = 0
        with use_clock(clock):
            while reviews < real:
                clock.set(noon(review_day(reviews)))
                driver.complete("cp_review", script.review_values(review_day(reviews)))
                reviews += 1
        if reviews < target:
            with Session(db.engine) as session, session.begin():
                fill_reviews(session, driver.case_id, target - reviews, reviews)
            reviews = target
        profiler = cProfile.Profile()
        times: list[float] = []
        with use_clock(clock):
            for _ in range(samples):
                day = review_day(reviews)
                clock.set(noon(day))
                values = script.review_values(day)
                if cold:
                    driver.store = CaseStore(db.engine, packs)
                start = time.perf_counter()
                profiler.enable()
                driver.complete("cp_review", values)
                profiler.disable()
                times.append(time.perf_counter() - start)
                reviews += 1
    PROFILE_DIR.mkdir(exist_ok=True)
    path = PROFILE_DIR / f"{name}.txt"
    out = io.StringIO()
    out.write(f"# cProfile: {samples} review completions (CaseStore.complete_task) on SQLite, "
              f"case with {prior} prior completed tasks, "
              f"{'record read from the database (cold store)' if cold else 'record cached'}\n")
    out.write(f"# median wall time per completion under the profiler: "
              f"{median([ms(t) for t in times]):.1f} ms (profiling adds overhead)\n\n")
    for title, sort, limit, restrict in (
        ("carepath's own functions, by cumulative time", "cumulative", 40, LAYERS),
        ("everything, by cumulative time", "cumulative", 60, None),
        ("everything, by own time", "tottime", 40, None),
    ):
        out.write(f"## {title}\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(sort)
        if restrict:
            stats.print_stats(restrict, limit)
        else:
            stats.print_stats(limit)
    path.write_text(_relative(out.getvalue()), encoding="utf-8")
    log(f"  profile written: {path.relative_to(ROOT.parent)}")
    return path


def _relative(text: str) -> str:
    """Paths shortened to the package (site-packages/... and the repository root dropped)."""
    import re

    text = re.sub(r"\S*/site-packages/", "site-packages/", text)
    return text.replace(str(ROOT.parent) + "/", "")
