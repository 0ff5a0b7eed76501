"""Figure 2: task completions per second over many cases, one process, durable commits.

Each repeat opens N fresh wt2023 cases (not timed), then completes all their tasks round-robin
(step 1 of every case, then step 2 of every case, ...) through ``CaseStore.complete_task``: the
whole child protection path of the recorded story, from the referral decision to the closure
(10 completions per case). Every completion is its own durable transaction.

Baseline, in the same run and on the same database and settings: the raw rate of one-row
INSERT + COMMIT through the database driver (the disk's and the server's commit limit). Baseline
samples are taken before, between and after the repeats.

Before timing, the harness checks once that a completed task's successor is in the inbox query
(``CaseStore.tasks``) right after ``complete_task`` returns: tasks are written in the same
transaction as the completion, never by a background job.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.cases import CaseDriver, Script
from bench.common import Database, Settings, database, durability, log, median
from carepath.adapters.packs import PackRegistry
from carepath.engine.time.clock import FixedClock, use_clock
from tests.casework import Casework as CaseStore

COMMIT_TABLE = "bench_commit"
PAYLOAD = "x" * 100


def create_commit_table(db: Database) -> None:
    key = "INTEGER PRIMARY KEY" if db.kind == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with db.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {COMMIT_TABLE}"))
        conn.execute(text(f"CREATE TABLE {COMMIT_TABLE} (id {key}, payload TEXT NOT NULL)"))


def raw_commit_rate(db: Database, seconds: float) -> float:
    """One-row INSERT + COMMIT per transaction through the DB-API connection, for ``seconds``."""
    marker = "?" if db.kind == "sqlite" else "%s"
    sql = f"INSERT INTO {COMMIT_TABLE} (payload) VALUES ({marker})"
    raw = db.engine.raw_connection()  # carries carepath's SQLite pragmas (WAL, FULL)
    try:
        cursor = raw.cursor()
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            cursor.execute(sql, (PAYLOAD,))
            raw.commit()
            count += 1
            if time.perf_counter() >= deadline:
                break
        return count / (time.perf_counter() - start)
    finally:
        raw.close()


def check_inbox_visibility(store: CaseStore, script: Script, clock: FixedClock) -> None:
    driver = CaseDriver(store, script, 900_000, clock)
    step = script.steps[0]
    with use_clock(clock):
        clock.set(max(clock.now(), step.at))
        done = driver.task_for(step.form)
        opened = driver.complete(step.form, step.values)
        inbox = {t.id for t in store.tasks(case_id=driver.case_id)}
    if not opened:
        raise AssertionError("completing the first task opened nothing")
    missing = [t.id for t in opened if t.id not in inbox]
    if missing or done.id in inbox:
        raise AssertionError(f"inbox right after commit: successors {missing} missing, or "
                             f"the completed task {done.id} still there")


def run(settings: Settings, script: Script, kinds: list[str], workdir: Path,
        postgres_url: str | None) -> dict[str, Any]:
    log("figure 2: throughput over many cases")
    per_db: dict[str, Any] = {}
    for kind in kinds:
        with database(kind, workdir, postgres_url, "throughput") as db:
            per_db[kind] = _run_one(settings, script, db)
    return {"per_db": per_db}


def _run_one(settings: Settings, script: Script, db: Database) -> dict[str, Any]:
    store = CaseStore(db.engine, PackRegistry())
    clock = FixedClock(script.opened_at)
    create_commit_table(db)
    check_inbox_visibility(store, script, clock)
    commit_rates = [raw_commit_rate(db, settings.commit_sample_s)]
    rates: list[float] = []
    completions = 0
    n = 0
    for repeat in range(settings.throughput_repeats):
        drivers = []
        for _ in range(settings.throughput_cases):
            drivers.append(CaseDriver(store, script, n, clock))
            n += 1
        gc.collect()
        done = 0
        start = time.perf_counter()
        with use_clock(clock):
            for step in script.steps:
                clock.set(step.at)
                for driver in drivers:
                    driver.complete(step.form, step.values)
                    done += 1
        seconds = time.perf_counter() - start
        rates.append(done / seconds)
        completions += done
        commit_rates.append(raw_commit_rate(db, settings.commit_sample_s))
        log(f"  {db.kind}: repeat {repeat + 1}: {done} completions in {seconds:.1f} s = "
            f"{rates[-1]:.0f}/s; raw commits {commit_rates[-1]:.0f}/s")
    throughput = median(rates)
    raw = median(commit_rates)
    return {
        "throughput_per_s": round(throughput, 1),
        "raw_commit_per_s": round(raw, 1),
        "throughput_vs_commit_ratio": round(throughput / raw, 4),
        "repeats": [round(r, 1) for r in rates],
        "raw_commit_samples": [round(r, 1) for r in commit_rates],
        "cases_per_repeat": settings.throughput_cases,
        "completions_per_case": len(script.steps),
        "completions": completions,
        "inbox_visible_after_commit": True,
        "durability": durability(db),
    }
