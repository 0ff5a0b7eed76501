"""Crash safety of ``carepath migrate``: the real command killed with SIGKILL half-way through a
run.

A caseload waits at a task that the new version of its pack removes (mapped elsewhere by the
new version's ``migrations:``), so every case that moves visibly changes. ``carepath migrate
--from`` runs as a subprocess and is killed once a random number of its cases (at least one,
never all) have moved, judged from the database. Then: every case is either moved (on the new
version, its waiting task where the mapping puts it, its record as it was, the move in its audit
trail and in the run) or untouched (exactly as before: pack, instances with their state, tasks,
record); ``audit verify`` passes; the run id printed before the first case is there in the
killed command's output; ``carepath migrate undo`` of the partial run puts the moved cases back
exactly as they were; a second ``migrate`` then moves the whole caseload.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from carepath.adapters.app import services_for
from carepath.adapters.db import models as m
from carepath.adapters.db.database import make_engine, upgrade
from carepath.adapters.packs import PACK_PATH_ENV, PackRegistry
from carepath.engine.record.case_record import record_to_story
from carepath.engine.simulation.generator import upn_for
from carepath.service.types import Actor, TaskFilter

from .conftest import record_figures, suite_seed

MOVES = Path(__file__).parents[1] / "packs" / "moves"
CASES = 60
OPERATOR = Actor.operator("crash-test")


def _env() -> dict[str, str]:
    env = dict(os.environ, CAREPATH_USER="crash-test")
    env.pop("CAREPATH_DATABASE_URL", None)
    env[PACK_PATH_ENV] = os.pathsep.join(str(MOVES / v) for v in ("v1", "remove_mapped"))
    return env


def _cli(args: list[str], url: str) -> list[str]:
    return [sys.executable, "-m", "carepath.cli", *args, "--db", url]


def _caseload(url: str) -> list[int]:
    """CASES cases of moves-test 1.0.0 that have done 'decide' and wait at 'check'."""
    engine = make_engine(url)
    upgrade(engine)
    registry = PackRegistry([MOVES / "v1", MOVES / "remove_mapped"])
    registry.pin("moves-test", "1.0.0")
    services = services_for(engine, registry)
    ids = []
    for n in range(CASES):
        child = {"la_child_id": f"K{n:04d}", "upn": upn_for(77, n), "birth_date": "2015-06-01",
                 "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]}
        case_id = services.cases.open_case("moves-test", child, {"date": "2025-05-01",
                                                                  "source": "2A"},
                                           OPERATOR, worker="sam").case_id
        (first,) = services.cases.tasks(TaskFilter(case_id=case_id))
        services.cases.complete_task(first.id, {"nfa": True}, OPERATOR)
        ids.append(case_id)
    return ids


def _state(services: Any, case_id: int) -> Any:
    """Everything a move may change."""
    head = services.cases.head(case_id)
    instances = [(i.instance_id, i.process_id, i.pack_name, i.pack_version, i.status, i.state)
                 for i in services.cases.cases.case_instances(case_id)]
    tasks = sorted((t.id, t.bpmn_id, t.title, t.due, t.status, t.assignee)
                   for status in ("ready", "completed", "cancelled")
                   for t in services.cases.tasks(TaskFilter(case_id=case_id, status=status)))
    return head.pack, instances, tasks, record_to_story(services.cases.record(case_id))


def _moved_count(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(m.MigrationCaseRow))
                   .scalar_one())


def _kill_half_way(url: str, threshold: int) -> tuple[bool, str]:
    """Run the migration and SIGKILL it once ``threshold`` cases have moved; (killed, output)."""
    watcher = make_engine(url)
    proc = subprocess.Popen(_cli(["migrate", "--to", "moves-test@1.4.0", "--from",
                                  "moves-test@1.0.0", "--json"], url),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env())
    killed = False
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if _moved_count(watcher) >= threshold:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)
    else:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    output = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
    if proc.stdout:
        proc.stdout.close()
    return killed, output


def test_a_migrate_killed_half_way_leaves_each_case_moved_or_untouched(db_url: str) -> None:
    seed = suite_seed("migrate_crash")
    rng = random.Random(seed)
    ids = _caseload(db_url)
    engine = make_engine(db_url)
    registry = PackRegistry([MOVES / "v1", MOVES / "remove_mapped"])
    services = services_for(engine, registry)
    before = {case_id: _state(services, case_id) for case_id in ids}

    threshold = rng.randint(1, CASES // 2)
    killed, output = _kill_half_way(db_url, threshold)
    assert killed, f"the run ended before {threshold} cases had moved: {output[-2000:]}"

    with engine.connect() as conn:
        runs = list(conn.execute(select(m.MigrationRunRow.id)).scalars())
        in_run = set(conn.execute(select(m.MigrationCaseRow.case_id)).scalars())
    (run_id,) = runs
    assert f'"run_id": "{run_id}"' in output  # printed before the first case moved
    assert 0 < len(in_run) < CASES, (len(in_run), output[-2000:])

    services = services_for(engine, PackRegistry([MOVES / "v1", MOVES / "remove_mapped"]))
    for case_id in ids:
        now = _state(services, case_id)
        if case_id not in in_run:
            assert now == before[case_id], f"case {case_id} was half-moved"
            continue
        pack, instances, tasks, record = now
        assert pack == "moves-test@1.4.0", case_id
        assert record == before[case_id][3], case_id
        assert {(i[2], i[3]) for i in instances if i[4] == "running"} == {
            ("moves-test", "1.4.0")}, case_id
        assert [t[1] for t in tasks if t[4] == "ready"] == ["extra"], case_id
        assert [h.kind for h in services.cases.cases.history(case_id)][-1] == "case.migrated"
    assert services.audit.verify(None).problems == []

    undone = subprocess.run(_cli(["migrate", "undo", run_id, "--json"], db_url),
                            capture_output=True, text=True, env=_env(), timeout=300,
                            check=False)
    assert undone.returncode == 0, undone.stdout + undone.stderr
    results = json.loads(undone.stdout)
    assert sorted(r["case_id"] for r in results) == sorted(in_run)
    assert all(r["undone"] for r in results)
    services = services_for(engine, PackRegistry([MOVES / "v1", MOVES / "remove_mapped"]))
    for case_id in ids:
        assert _state(services, case_id) == before[case_id], case_id
    assert services.audit.verify(None).problems == []

    # and the caseload can then be moved whole
    again = subprocess.run(_cli(["migrate", "--to", "moves-test@1.4.0", "--all", "--json"],
                                db_url), capture_output=True, text=True, env=_env(),
                           timeout=600, check=False)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr
    report = json.loads(again.stdout)
    assert (report["moved"], report["refused"], len(report["cases"])) == (CASES, 0, CASES)
    assert services.audit.verify(None).problems == []
    record_figures("migrate_crash", kill_after_cases=threshold, moved_when_killed=len(in_run),
                   cases=CASES)
