"""Figure 1: the cost of one task completion as a case's history grows.

For each checkpoint (10, 100, 1,000, 5,000 prior completed tasks in the case) a group of K cases
of the wt2023 pack is walked through the real store to a child protection plan, then their plan
recurs: each review conference completes the ``cp_review`` instance and starts the next one (how
the pack models recurrence) until the case has that many completed tasks. Then, in R rounds, every
case of every group completes one more review through ``CaseStore.complete_task`` (load,
validate, map to the record, engine steps, durable commit, events), timed one by one: the
checkpoints are measured interleaved, so a noisy neighbour hits all of them alike and the ratio
between them holds.

Each checkpoint is measured twice, on separate cases: "warm", the store as a long-lived process
runs it (it keeps the records it has just committed, keyed by case version), and "cold", a store
that has never seen the case, so the record is read from the database as on a process's first
touch of a case - the like-for-like comparison with raw Spiff, which reads its whole state on
every request. (A warm case gets one untimed completion first, to fill the cache after its history
was written; its samples are at c+1 to c+R prior tasks, the cold ones at c to c+R-1.)

Baseline, in the same run, on the same database: raw SpiffWorkflow running the same recurrence as
one BPMN loop with the same history, one stateless request per step (``spiff_baseline``); each
carepath completion is followed by one baseline step at the same checkpoint.

History below ``real_history_up_to`` is made of real completions; above it, the rows review
completions write are written directly (``cases.fill_reviews``) - the measured completions are
always real ones.
"""

from __future__ import annotations

import gc
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bench import spiff_baseline
from bench.cases import (
    FIRST_REVIEW,
    CaseDriver,
    Script,
    check_filled_like_real,
    completed_tasks,
    fill_reviews,
    noon,
)
from bench.common import Settings, database, log, median, ms, percentile
from carepath.adapters.packs import PackRegistry
from carepath.engine.time.clock import FixedClock, use_clock
from tests.casework import Casework as CaseStore


def review_day(number: int) -> date:
    return FIRST_REVIEW + timedelta(days=number)


def spiff_values(script: Script, number: int) -> dict[str, Any]:
    values = script.review_values(review_day(number))
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}


def build_spiff_snapshots(settings: Settings, script: Script) -> tuple[dict[int, str], float]:
    """The raw-Spiff workflow after c completed reviews, for each checkpoint c (built in memory
    once: that is not what is measured)."""
    start = time.perf_counter()
    loop = spiff_baseline.SpiffLoop()
    snapshots: dict[int, str] = {}
    for checkpoint in sorted(settings.checkpoints):
        while loop.completed < checkpoint:
            loop.complete_one(spiff_values(script, loop.completed))
        snapshots[checkpoint] = loop.dump()
        log(f"  raw Spiff workflow with {checkpoint} completed reviews built "
            f"({len(snapshots[checkpoint]) / 1024:.0f} KB of JSON, "
            f"{time.perf_counter() - start:.1f} s so far)")
    return snapshots, time.perf_counter() - start


def run(settings: Settings, script: Script, kinds: list[str], workdir: Path,
        postgres_url: str | None) -> dict[str, Any]:
    log("figure 1: completion cost vs case history")
    snapshots, spiff_build_s = build_spiff_snapshots(settings, script)
    per_db: dict[str, Any] = {}
    for kind in kinds:
        with database(kind, workdir, postgres_url, "history") as db:
            per_db[kind] = _run_one(settings, script, db, snapshots)
    return {"per_db": per_db, "spiff_build_s": round(spiff_build_s, 1),
            "spiff_json_kb": {str(c): round(len(s) / 1024, 1) for c, s in snapshots.items()}}


MODES = ("warm", "cold")


def _run_one(settings: Settings, script: Script, db: Any, snapshots: dict[int, str]
             ) -> dict[str, Any]:
    started = time.perf_counter()
    packs = PackRegistry()
    store = CaseStore(db.engine, packs)
    clock = FixedClock(script.opened_at)
    walk = script.walk_to_first_review()
    checkpoints = sorted(settings.checkpoints)
    # K cases per checkpoint and mode, so that everything can be measured interleaved
    groups: dict[tuple[int, str], list[CaseDriver]] = {}
    n = 0
    for checkpoint in checkpoints:
        for mode in MODES:
            groups[checkpoint, mode] = []
            for _ in range(settings.history_cases):
                driver = CaseDriver(store, script, n, clock)
                driver.replay(walk, clock)
                groups[checkpoint, mode].append(driver)
                n += 1
    reviews: dict[tuple[int, str], int] = {}  # reviews completed so far by each case of a group
    build_s: dict[str, float] = {}
    for checkpoint in checkpoints:
        t0 = time.perf_counter()
        drivers = groups[checkpoint, "warm"] + groups[checkpoint, "cold"]
        built = _build_history(settings, script, db, clock, drivers, checkpoint, len(walk))
        reviews[checkpoint, "warm"] = reviews[checkpoint, "cold"] = built
        build_s[str(checkpoint)] = round(time.perf_counter() - t0, 1)
    # Writing history directly bumps the case version, so the store's cached record is stale:
    # one untimed completion each makes the "warm" cases warm (and leaves them one review on).
    with use_clock(clock):
        for checkpoint in checkpoints:
            group = (checkpoint, "warm")
            day = review_day(reviews[group])
            clock.set(noon(day))
            for driver in groups[group]:
                driver.complete("cp_review", script.review_values(day))
            reviews[group] += 1
    log(f"  {db.kind}: {len(groups)} x {settings.history_cases} cases at "
        f"{', '.join(map(str, checkpoints))} prior tasks, built in "
        f"{time.perf_counter() - started:.1f} s")
    spiff_baseline.create_table(db.engine)
    rows: dict[tuple[int, str], list[int]] = {}
    row = 0
    for (checkpoint, mode), drivers in groups.items():
        rows[checkpoint, mode] = []
        for _ in drivers:
            row += 1
            spiff_baseline.store(db.engine, snapshots[checkpoint], row)
            rows[checkpoint, mode].append(row)
    ours: dict[tuple[int, str], list[float]] = {key: [] for key in groups}
    theirs: dict[int, list[float]] = {c: [] for c in checkpoints}
    gc.collect()
    with use_clock(clock):
        # A round is one completion of every case at every checkpoint, each followed by the
        # same step of raw Spiff with the same history: noise hits every figure alike.
        # "warm": the store as it runs in a long-lived process, which keeps the records it has
        # just written; "cold": a store that has never seen the case (a fresh process, another
        # worker), so the record is read from the database, like raw Spiff reads its JSON.
        for _ in range(settings.history_rounds):
            for checkpoint in checkpoints:
                for mode in MODES:
                    day = review_day(reviews[checkpoint, mode])
                    values = script.review_values(day)
                    raw_values = spiff_values(script, reviews[checkpoint, mode])
                    for driver, spiff_row in zip(groups[checkpoint, mode],
                                                 rows[checkpoint, mode], strict=True):
                        if mode == "cold":
                            driver.store = CaseStore(db.engine, packs)
                        clock.set(noon(day))
                        start = time.perf_counter()
                        driver.complete("cp_review", values)
                        ours[checkpoint, mode].append(time.perf_counter() - start)
                        start = time.perf_counter()
                        spiff_baseline.request(db.engine, raw_values, spiff_row)
                        theirs[checkpoint].append(time.perf_counter() - start)
                    reviews[checkpoint, mode] += 1
    warm = {str(c): [ms(x) for x in ours[c, "warm"]] for c in checkpoints}
    cold = {str(c): [ms(x) for x in ours[c, "cold"]] for c in checkpoints}
    spiff_ms = {str(c): [ms(x) for x in v] for c, v in theirs.items()}
    for checkpoint in checkpoints:
        key = str(checkpoint)
        log(f"  {db.kind}: {checkpoint:>5} prior tasks: carepath p50 {median(warm[key]):.1f} ms "
            f"(cold record {median(cold[key]):.1f} ms), raw Spiff p50 "
            f"{median(spiff_ms[key]):.1f} ms")
    if settings.smoke:  # the history shortcut must build what real completions build
        check_filled_like_real(store, script, reviews=4, first_n=10_000)
        log(f"  {db.kind}: filled history has the same shape as real history")

    def p50(samples: dict[str, list[float]]) -> dict[str, float]:
        return {c: round(median(v), 2) for c, v in samples.items()}

    def p99(samples: dict[str, list[float]]) -> dict[str, float]:
        return {c: round(percentile(v, 99), 2) for c, v in samples.items()}

    result: dict[str, Any] = {
        "samples_per_checkpoint": settings.history_cases * settings.history_rounds,
        "cases_per_checkpoint_and_mode": settings.history_cases,
        "carepath_p50_ms": p50(warm),
        "carepath_p99_ms": p99(warm),
        "carepath_cold_p50_ms": p50(cold),
        "carepath_cold_p99_ms": p99(cold),
        "raw_spiff_p50_ms": p50(spiff_ms),
        "raw_spiff_p99_ms": p99(spiff_ms),
        "carepath_samples_ms": warm,
        "carepath_cold_samples_ms": cold,
        "raw_spiff_samples_ms": spiff_ms,
        "history_build_s": build_s,
        "seconds": round(time.perf_counter() - started, 1),
    }
    for name, key in (("speedup_vs_raw_spiff", "carepath_p50_ms"),
                      ("cold_speedup_vs_raw_spiff", "carepath_cold_p50_ms")):
        result[name] = {c: round(result["raw_spiff_p50_ms"][c] / v, 2) if v else None
                        for c, v in result[key].items()}
    return result


def _build_history(settings: Settings, script: Script, db: Any, clock: FixedClock,
                   drivers: list[CaseDriver], checkpoint: int, walked: int) -> int:
    """Bring every case of a group to ``checkpoint`` completed tasks; returns its reviews."""
    target = checkpoint - walked  # reviews each case must have behind it
    if target < 1:
        raise RuntimeError(f"checkpoint {checkpoint} is within the walk to the first review")
    reviews = 0
    with use_clock(clock):
        # real completions up to real_history_up_to (and at least one: fill copies it)
        real_until = max(min(target, settings.real_history_up_to - walked), 1)
        while reviews < real_until:
            clock.set(noon(review_day(reviews)))
            for driver in drivers:
                driver.complete("cp_review", script.review_values(review_day(reviews)))
            reviews += 1
    if reviews < target:
        with Session(db.engine) as session, session.begin():
            for driver in drivers:
                fill_reviews(session, driver.case_id, target - reviews, reviews)
        reviews = target
    with Session(db.engine) as session:
        for driver in drivers:
            prior = completed_tasks(session, driver.case_id)
            if prior != checkpoint:
                raise RuntimeError(f"case {driver.case_id} has {prior} completed tasks, "
                                   f"expected {checkpoint}")
    return reviews
