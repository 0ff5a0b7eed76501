"""Figure 7: changing the process under a live caseload (``carepath migrate``).

Two runs, each on a fresh database of ``settings.migrate_cases`` open cases (10,000 in the full
run), each timed from the command line's start to its end in a process of its own
(:mod:`bench.migrate_worker`: peak RSS, and RSS sampled through the run to show it does not grow
with the cases moved):

* **version** (``migrate_10k_version_s``): wt2023 cases moved to a new version of wt2023 (a copy
  of the built-in pack in a pack directory on ``CAREPATH_PACK_PATH``, its version bumped and one
  task retitled): ``carepath migrate --to wt2023@1.0.1 --from wt2023@1.0.0 --json``, strategy
  ``instance`` (SpiffWorkflow diff and migrate of each running instance). The cases are the
  web figure's: the recorded wt2023 child protection story stopped after 0..9 completions,
  copied in bulk (:func:`bench.web.clone_cases`, audit chains re-made).
* **replay** (``migrate_10k_replay_s``): ics2010 cases moved to wt2023:
  ``carepath migrate --to wt2023@1.0.0 --from ics2010 --json``, strategy ``replay`` (the record
  told to wt2023 as a story on a scratch database). The cases are every story of
  ``carepath/stories`` stopped half-way (:func:`tests.halfway.half_way`) and run on ics2010
  through the story runner, then copied in bulk.

Both runs use ``--jobs settings.migrate_jobs`` (2: one process a core on the 2-core machines);
``peak_rss_mb`` and the RSS samples are the command's own process (which runs ``pack check`` on
the target); each worker holds one case at a time, like a run without ``--jobs``.

After each run: every case was reported (moved, or refused with a reason), no running instance
is left on the old pack (version) except those of refused cases, and a sample of cases passes
``audit verify``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.cases import Script
from bench.common import ROOT, Database, Settings, database, log
from bench.web import check_clones, clone_cases, make_templates, workers
from carepath.adapters.db import models as m

WORKER_TIMEOUT_S = 3600
TARGET_S = 60.0


def run(settings: Settings, script: Script, kinds: list[str], workdir: Path,
        postgres_url: str | None) -> dict[str, Any]:
    per_db: dict[str, Any] = {}
    for kind in kinds:
        if settings.smoke and kind != "sqlite":
            continue
        per_db[kind] = {}
        for what, build in (("version", _version_cases), ("replay", _replay_cases)):
            log(f"migrate: {kind}: {what}: {settings.migrate_cases:,} open cases")
            with database(kind, workdir, postgres_url, f"migrate_{what}") as db:
                per_db[kind][what] = _run_one(settings, db, workdir, what, build, script)
    return {"per_db": per_db, "cases": settings.migrate_cases}


def _version_cases(db: Database, workdir: Path,
                   script: Script) -> tuple[list[int], dict[str, Any]]:
    """wt2023 template cases, and the arguments that move them to a new version of wt2023."""
    ids = make_templates(db, script)[:-1]  # the last one is an ics2010 case
    packs = workdir / "migrate-packs"
    shutil.rmtree(packs, ignore_errors=True)
    target = packs / "wt2023-next"
    shutil.copytree(ROOT.parent / "carepath" / "processes" / "wt2023", target)
    meta = target / "pack.yaml"
    meta.write_text(re.sub(r"(?m)^version: 1\.0\.0$", "version: 1.0.1",
                           meta.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    referral = target / "processes" / "referral.yaml"
    text = referral.read_text(encoding="utf-8")
    titled = re.sub(r"(?m)^(\s+title: )(.+)$", r"\1\2 (revised)", text, count=1)
    referral.write_text(titled, encoding="utf-8")
    return ids, {"env": {"CAREPATH_PACK_PATH": str(target)},
                 "args": ["--to", "wt2023@1.0.1", "--from", "wt2023@1.0.0"],
                 "old": ("wt2023", "1.0.0")}


def _replay_cases(db: Database, workdir: Path,
                  script: Script) -> tuple[list[int], dict[str, Any]]:
    """ics2010 cases half-way through every story, and the arguments that move them to
    wt2023."""
    from carepath.adapters.app import services_for
    from carepath.adapters.packs import PackRegistry
    from carepath.service.stories import StoryRunner
    from tests.halfway import half_way

    registry = PackRegistry()
    services = services_for(db.engine, registry)
    ids = []
    for path in sorted((ROOT.parent / "carepath" / "stories").glob("*.yaml")):
        story = half_way(path)
        if story is None:
            continue
        result = StoryRunner(services.cases, registry.get("ics2010")).run(story)
        case_id = result.case_ids[0]
        if result.stopped_at:  # a case with running work (a closed one has nothing to move)
            ids.append(case_id)
    return ids, {"env": {}, "args": ["--to", "wt2023@1.0.0", "--from", "ics2010"],
                 "old": ("ics2010", None)}


def _run_one(settings: Settings, db: Database, workdir: Path, what: str,
             build: Any, script: Script) -> dict[str, Any]:
    t0 = time.perf_counter()
    template_ids, how = build(db, workdir, script)
    spread = workers()
    if what == "replay":  # story cases are reallocated in their stories: keep each one's own
        with db.engine.connect() as conn:
            own = {int(i): (w, t) for i, w, t in conn.execute(
                select(m.CaseRow.id, m.CaseRow.worker, m.CaseRow.team)
                .where(m.CaseRow.id.in_(template_ids)))}
        spread = [own[i] for i in template_ids]
    cloned = clone_cases(db, template_ids, settings.migrate_cases, spread)
    old_name, old_version = how["old"]
    query = select(m.ProcessInstanceRow.case_id).where(
        m.ProcessInstanceRow.status == m.INSTANCE_RUNNING,
        m.ProcessInstanceRow.pack_name == old_name).distinct()
    if old_version is not None:
        query = query.where(m.ProcessInstanceRow.pack_version == old_version)
    with db.engine.connect() as conn:
        ids = sorted(int(x) for x in conn.execute(query).scalars())
    rng = random.Random(7)
    sample = sorted(set(rng.sample(ids, min(len(ids), 20)) + ids[-3:]))
    check_clones(db, sample)
    setup_s = round(time.perf_counter() - t0, 1)
    log(f"migrate: {db.kind}: {what}: {len(ids):,} cases ({len(template_ids)} templates) in "
        f"{setup_s} s")
    out_file = workdir / f"migrate-{what}-{db.kind}.json"
    result = _worker(out_file, ["migrate", *how["args"], "--jobs", str(settings.migrate_jobs),
                                "--json", "--db", db.url], how["env"])
    report = json.loads(out_file.read_text(encoding="utf-8"))
    statuses: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for case in report["cases"]:
        statuses[case["status"]] = statuses.get(case["status"], 0) + 1
        if case["status"] == "refused":
            reasons[case["reason"]] = reasons.get(case["reason"], 0) + 1
    refused = {c["case_id"] for c in report["cases"] if c["status"] == "refused"}
    if len(report["cases"]) != len(ids):
        raise AssertionError(f"{len(ids)} cases but {len(report['cases'])} reported")
    with db.engine.connect() as conn:
        left = {int(c) for c in conn.execute(query).scalars()}
        migrated_events = int(conn.execute(select(func.count()).select_from(m.EventRow)
                                           .where(m.EventRow.kind == "case.migrated"))
                              .scalar_one())
    if left - refused:
        raise AssertionError(f"{len(left - refused)} moved case(s) still run on {old_name}")
    check_clones(db, [c for c in sample if c not in refused] or sample[:1])
    # RSS against progress: the report file grows with the cases done
    samples = result.pop("rss_samples")
    size = out_file.stat().st_size
    after = [mb for _, mb, written in samples if written >= size // 4]
    quarter = after[0] if after else None
    summary = {
        "cases": len(ids), "templates": len(template_ids), "setup_s": setup_s,
        "clone_s": cloned["clone_s"], "seconds": round(result["seconds"], 2),
        "cases_per_s": round(len(ids) / result["seconds"], 1) if result["seconds"] else None,
        "jobs": settings.migrate_jobs,
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "rss_after_imports_mb": round(result["peak_rss_after_imports_mb"], 1),
        "rss_at_quarter_mb": quarter, "rss_at_end_mb": after[-1] if after else None,
        "rss_growth_after_quarter_mb": round(max(after) - after[0], 1) if after else None,
        "exit_code": result["exit_code"], "statuses": statuses, "refused_reasons": reasons,
        "migrated_events": migrated_events, "run_id": report["run_id"],
        "strategy": "instance" if what == "version" else "replay"}
    log(f"migrate: {db.kind}: {what}: {summary['seconds']} s for {len(ids):,} cases "
        f"({summary['cases_per_s']}/s), peak RSS {summary['peak_rss_mb']} MB; {statuses}")
    return summary


def _worker(out_file: Path, args: list[str], env_extra: dict[str, str]) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(env_extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT.parent),
                                                     env.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "bench.migrate_worker", str(out_file), "--", *args],
        capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, env=env, cwd=ROOT.parent,
        check=False)
    if done.returncode != 0 or not done.stdout.strip():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"carepath {' '.join(args[:3])} failed (exit {done.returncode}): "
                           f"{tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["exit_code"] not in (0, 1):  # 1: some cases refused (reported)
        raise RuntimeError(f"carepath migrate exited {result['exit_code']}: "
                           f"{out_file.read_text(encoding='utf-8')[-500:]}")
    return result
