"""Figure 2: durable task completions per second over many cases, with 1, 2 (and 4) processes.

Each repeat runs N worker processes (``multiprocessing``, spawn) against the same database (the
same SQLite file, or the same PostgreSQL schema). Each worker opens its own fresh wt2023 cases
(not timed; the cases of different workers are disjoint), waits for the others, then completes
all their tasks round-robin (step 1 of every case, then step 2 of every case, ...) through
``CaseStore.complete_task``: the whole child protection path of the recorded story, from the
referral decision to the closure (10 completions per case). Every completion is its own durable
transaction (SQLite in WAL mode with ``synchronous=FULL``, as ``make_engine`` sets it). The
figure for N processes is all completions over the wall time from the first worker's start to
the last one's end; ``throughput_per_s`` is the best over the process counts tried (1 and 2 on
SQLite, whose writers queue on one lock; 1, 2 and 4 on PostgreSQL), and each count is reported.
(One process runs in the harness's own process: the same work, without a start-up to wait for.)

Baseline, in the same run and on the same database and settings: the raw rate of one-row
INSERT + COMMIT through the database driver, one connection (the disk's and the server's commit
limit). Baseline samples are taken before, between and after the repeats.

Before timing, the harness checks once that a completed task's successor is in the inbox query
(``CaseStore.tasks``) right after ``complete_task`` returns: tasks are written in the same
transaction as the completion, never by a background job.
"""

from __future__ import annotations

import gc
import multiprocessing
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
PROCESSES = {"sqlite": (1, 2), "postgresql": (1, 2, 4)}
CASES_PER_WORKER = 100_000  # worker w's case numbers are (w + 1) * this + ... (disjoint)


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
    log("figure 2: throughput over many cases, 1 to 4 processes")
    per_db: dict[str, Any] = {}
    for kind in kinds:
        with database(kind, workdir, postgres_url, "throughput") as db:
            per_db[kind] = _run_one(settings, script, db)
    return {"per_db": per_db}


# --- the workers -----------------------------------------------------------------------------


def _worker(url: str, script: Script, worker: int, cases: int, batch: int,
            ready: Any, go: Any, results: Any) -> None:
    """One process: open its cases, wait for the others, complete every task, report."""
    try:
        from carepath.adapters.db.database import make_engine

        engine = make_engine(url)
        store = CaseStore(engine, PackRegistry())
        clock = FixedClock(script.opened_at)
        first = (worker + 1) * CASES_PER_WORKER + batch * cases  # a new child each time
        drivers = [CaseDriver(store, script, first + i, clock) for i in range(cases)]
        gc.collect()
        ready.put(worker)
        go.wait()
        done = 0
        start = time.monotonic()  # system-wide on Linux: comparable across the workers
        with use_clock(clock):
            for step in script.steps:
                clock.set(step.at)
                for driver in drivers:
                    driver.complete(step.form, step.values)
                    done += 1
        results.put((worker, done, start, time.monotonic(), None))
        engine.dispose()
    except BaseException as exc:  # reported to the parent, which fails the figure
        results.put((worker, 0, 0.0, 0.0, f"{type(exc).__name__}: {exc}"))
        ready.put(worker)


def _in_process(db: Database, script: Script, cases: int, batch: int) -> tuple[int, float]:
    """The one-process figure, in this process (the same as one spawned worker, without the
    start-up): (completions, seconds)."""
    store = CaseStore(db.engine, PackRegistry())
    clock = FixedClock(script.opened_at)
    first = CASES_PER_WORKER + batch * cases
    drivers = [CaseDriver(store, script, first + i, clock) for i in range(cases)]
    gc.collect()
    done = 0
    start = time.monotonic()
    with use_clock(clock):
        for step in script.steps:
            clock.set(step.at)
            for driver in drivers:
                driver.complete(step.form, step.values)
                done += 1
    return done, time.monotonic() - start


def _measure(db: Database, script: Script, processes: int, cases: int, batch: int
             ) -> tuple[float, int, float]:
    """Completions per second with ``processes`` workers of ``cases`` cases each: (rate,
    completions, seconds)."""
    if processes == 1:
        done, seconds = _in_process(db, script, cases, batch)
        return done / seconds, done, seconds
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    workers = [ctx.Process(target=_worker, args=(db.url, script, w, cases, batch, ready, go,
                                                  results), daemon=True)
               for w in range(processes)]
    for w in workers:
        w.start()
    try:
        for _ in workers:
            ready.get(timeout=600)
        go.set()
        reports = [results.get(timeout=1800) for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=60)
            if w.is_alive():
                w.kill()
    errors = [r[4] for r in reports if r[4]]
    if errors:
        raise RuntimeError(f"a throughput worker failed: {errors[0]}")
    done = sum(r[1] for r in reports)
    seconds = max(r[3] for r in reports) - min(r[2] for r in reports)
    return done / seconds, done, seconds


def _run_one(settings: Settings, script: Script, db: Database) -> dict[str, Any]:
    store = CaseStore(db.engine, PackRegistry())
    clock = FixedClock(script.opened_at)
    create_commit_table(db)
    check_inbox_visibility(store, script, clock)
    commit_rates = [raw_commit_rate(db, settings.commit_sample_s)]
    counts = PROCESSES[db.kind] if not settings.smoke else (1, 2)
    rates: dict[int, list[float]] = {n: [] for n in counts}
    completions = 0
    batch = 0
    for repeat in range(settings.throughput_repeats):
        for processes in counts:  # interleaved: noise hits every process count alike
            rate, done, seconds = _measure(db, script, processes, settings.throughput_cases,
                                           batch)
            batch += 1
            rates[processes].append(rate)
            completions += done
            log(f"  {db.kind}: repeat {repeat + 1}, {processes} process(es): {done} completions "
                f"in {seconds:.1f} s = {rate:.0f}/s")
        commit_rates.append(raw_commit_rate(db, settings.commit_sample_s))
        log(f"  {db.kind}: raw commits {commit_rates[-1]:.0f}/s")
    by_processes = {str(n): round(median(v), 1) for n, v in rates.items()}
    best = max(by_processes, key=lambda n: by_processes[n])
    throughput = by_processes[best]
    raw = median(commit_rates)
    return {
        "throughput_per_s": throughput,
        "throughput_processes": int(best),
        "throughput_per_s_by_processes": by_processes,
        "raw_commit_per_s": round(raw, 1),
        "throughput_vs_commit_ratio": round(throughput / raw, 4),
        "repeats": {str(n): [round(r, 1) for r in v] for n, v in rates.items()},
        "raw_commit_samples": [round(r, 1) for r in commit_rates],
        "cases_per_process": settings.throughput_cases,
        "completions_per_case": len(script.steps),
        "completions": completions,
        "inbox_visible_after_commit": True,
        "durability": durability(db),
    }
