"""Randomised concurrency on PostgreSQL: many processes work one shared caseload at once.

Eight processes (``multiprocessing``, each with its own connections) take 2,000 random
operations between them (complete a task, take an action, record a referral, run the timers,
claim or assign a task, change the allocated worker) on 24 cases, most of them on a hot quarter.
Afterwards: every case's record equals the replay of its events, no task was completed twice,
every write a worker was told succeeded is in the log and nothing else is, every loser was told
the case changed (or that the task is no longer ready), nothing failed unexpectedly, and the
audit chain verifies.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from carepath.adapters.app import open_services
from carepath.adapters.db import models as m
from carepath.engine.intake import check_child
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import ValidationContext
from carepath.service.types import Actor, TaskFilter

from .conftest import record_figures, suite_seed
from .replay import differences, replay
from .workload import NOW, PACK, Tally, child_for, harvest, run_worker

PROCESSES = 8
OPERATIONS = 2000
CASES = 24

pytestmark = pytest.mark.postgres


def _work(args: tuple[str, object, list[int], int, int, int]) -> Tally:
    return run_worker(*args)  # type: ignore[arg-type]


def test_many_processes_racing_on_one_caseload(pg_url: str, tmp_path: Path) -> None:
    seed = suite_seed("concurrency")
    started = time.perf_counter()
    book = harvest(f"sqlite:///{tmp_path / 'harvest.db'}")
    from carepath.adapters.db.database import make_engine, upgrade

    upgrade(make_engine(pg_url))
    services = open_services(pg_url)
    children: dict[int, dict[str, object]] = {}
    with use_clock(FixedClock(NOW)):
        for i in range(CASES):
            child = child_for(book, seed, i)
            opened = services.cases.open_case(PACK, child, book.referral,
                                              Actor.operator("setup"), worker="sam",
                                              team="north")
            children[opened.case_id] = child
    case_ids = sorted(children)
    services.engine.dispose()

    per = OPERATIONS // PROCESSES
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        tallies: list[Tally] = pool.map(
            _work, [(pg_url, book, case_ids, w, seed, per) for w in range(PROCESSES)])
    worked = time.perf_counter() - started

    ops = sum(t.ops for t in tallies)
    outcomes: Counter[str] = Counter()
    for t in tallies:
        outcomes.update(t.outcomes)
    unexpected = [u for t in tallies for u in t.unexpected]
    bad_losers = [b for t in tallies for b in t.bad_losers]
    for t in tallies:
        for case_id, la_child_id in t.opened_cases:
            children[case_id] = child_for(book, 900 + t.worker,
                                          int(la_child_id.rsplit("N", 1)[1]))

    services = open_services(pg_url)
    problems: list[str] = []
    with services.engine.connect() as conn:
        per_task = conn.execute(
            select(m.EventRow.payload).where(m.EventRow.kind == "task.completed")).scalars()
        done = Counter(json.loads(p).get("task_id") for p in per_task)
        twice = {k: v for k, v in done.items() if k is not None and v > 1}
        completed_rows = conn.execute(select(func.count()).select_from(m.TaskRow)
                                      .where(m.TaskRow.status == "completed")).scalar_one()
    claimed = Counter(task for t in tallies for task in t.completed)
    if twice:
        problems.append(f"tasks completed more than once: {twice}")
    if any(v > 1 for v in claimed.values()):
        problems.append("two workers were both told they completed one task: "
                        f"{[k for k, v in claimed.items() if v > 1]}")
    missing = set(claimed) - set(done)
    if missing:
        problems.append(f"completions a worker was told were saved are not in the log: {missing}")
    logged = {k for k in done if k is not None}
    if logged != set(claimed):
        # every completion in the log is one a worker was told succeeded (story setup: none)
        problems.append(f"completions in the log no worker made: {sorted(logged - set(claimed))}")
    if completed_rows != len(logged):
        problems.append(f"{completed_rows} tasks marked completed, {len(logged)} in the log")

    today = ValidationContext(today=date(2030, 1, 1))
    replayed = 0
    for case_id, child in sorted(children.items()):
        stored = services.cases.record(case_id)
        services.cases.tasks(TaskFilter(case_id=case_id))  # every case loads, tasks too
        again = replay(check_child(child, today), services.cases.history(case_id))
        diff = differences(stored, again)
        if diff:
            problems.append(f"case {case_id}: the record is not the replay of its events: "
                            + "; ".join(diff))
        replayed += 1
    audit = services.audit.verify(None)
    if not audit.intact:
        problems.extend(f"audit: case {p.case_id}: {p.problem}" for p in audit.problems)
    services.engine.dispose()
    seconds = round(time.perf_counter() - started, 1)

    wins = sum(v for k, v in outcomes.items() if k.endswith(":ok") or k.endswith(":moved"))
    losers = outcomes_total(outcomes, "conflict") + outcomes_total(outcomes, "task_state")
    record_figures("concurrency", database="postgresql", processes=PROCESSES, operations=ops,
                   cases=len(children), writes=wins, conflicts=outcomes_total(outcomes, "conflict"),
                   task_state=outcomes_total(outcomes, "task_state"),
                   refused=outcomes_total(outcomes, "refused"), completions=len(logged),
                   replayed_cases=replayed, failures=len(problems) + len(unexpected)
                   + len(bad_losers), seed=seed, seconds=seconds,
                   work_seconds=round(worked, 1), outcomes=dict(sorted(outcomes.items())))
    print(f"[faults] concurrency: {ops} operations, {PROCESSES} processes, {wins} writes, "
          f"{losers} lost races, seed {seed}, {seconds} s")
    assert ops >= 2000
    assert not unexpected, f"seed {seed}: unexpected errors:\n" + "\n".join(unexpected[:5])
    assert not bad_losers, f"seed {seed}: losers not told the case changed: {bad_losers[:5]}"
    assert not problems, f"seed {seed}:\n" + "\n".join(problems[:20])
    # the run raced: some operations lost, many won
    assert outcomes_total(outcomes, "conflict") > 0, outcomes
    assert len(logged) > 50, outcomes


def outcomes_total(outcomes: Counter[str], name: str) -> int:
    return sum(v for k, v in outcomes.items() if k.endswith(f":{name}"))
