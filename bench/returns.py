"""Figure 3: statutory returns at national scale.

100,000 simulated children (``carepath.engine.simulation.generator.generate_stories``) are turned into case
records (``story_to_record``) and written to a SQLite database (no process engine: a return reads
only the record). Then, each in a fresh process so that its peak RSS is its own
(``returns_worker``):

* the CIN census for the year (``write_cin_census`` over ``iter_cases``): seconds and peak RSS;
* Annex A for the last six months of the same year (``write_annex_a``), same data;
* baselines: streaming every record through ``iter_cases`` and writing nothing (the read floor),
  and a process that only imports (the interpreter's own RSS).

A piece that does not exist yet (the simulator, the census writer, the record stream, Annex A) is
reported as missing with the reason, not skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bench.common import ROOT, Settings, database, log, median
from bench.records_bulk import BulkWriter, check_round_trip

SEED = 20_251_124
CENSUS_TARGET_S = 10.0
CENSUS_TARGET_MB = 500.0
PROFILE_DIR = ROOT / "profiles"
BATCH = 2_000
WORKER_TIMEOUT_S = 600


def _import_problems() -> dict[str, str]:
    problems: dict[str, str] = {}
    checks = {
        "simulator": ("carepath.engine.simulation.generator", "generate_stories"),
        "census": ("carepath.returns.cin_census", "write_cin_census"),
        "record_stream": ("carepath.adapters.db.record_stream", "iter_cases"),
        "annex_a": ("carepath.returns.annex_a", "write_annex_a"),
    }
    import importlib

    for key, (module, name) in checks.items():
        try:
            if not callable(getattr(importlib.import_module(module), name, None)):
                problems[key] = f"{module} has no {name}()"
        except Exception as exc:  # missing module or broken import: both mean "not there"
            problems[key] = f"{module}.{name} cannot be imported ({type(exc).__name__}: {exc})"
    return problems


def _worker(mode: str, url: str, year: int, out: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT.parent),
                                                     env.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.returns_worker", mode, url, str(year), str(out)],
        capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, env=env, cwd=ROOT.parent,
        check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{mode} failed (exit {done.returncode}): {tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


def run(settings: Settings, workdir: Path) -> dict[str, Any]:
    n = settings.census_children
    log(f"figure 3: returns for {n:,} simulated children")
    out: dict[str, Any] = {"children": n, "database": "sqlite"}
    problems = _import_problems()
    census_missing = [problems[k] for k in ("simulator", "census", "record_stream")
                      if k in problems]
    if census_missing:
        reason = "; ".join(census_missing)
        log(f"  not measured: {reason}")
        return {**out, "census_s": None, "census_reason": reason,
                "annex_a_s": None, "annex_a_reason": reason}
    from carepath.adapters.packs import PackRegistry
    from carepath.engine.record.case_record import story_to_record
    from carepath.engine.simulation.generator import generate_stories

    pack = PackRegistry().get("wt2023")
    with database("sqlite", workdir, None, "returns") as db:
        try:
            build = _build(db, generate_stories, story_to_record, n, settings.census_year,
                           pack.name, pack.version)
        except Exception as exc:
            reason = (f"simulated records could not be built: {type(exc).__name__}: {exc} "
                      f"(at {_where(exc)})")
            log(f"  not measured: {reason}")
            return {**out, "census_s": None, "census_reason": reason,
                    "annex_a_s": None, "annex_a_reason": reason}
        out.update(build)
        log(f"  {n:,} records built in {build['build_s']} s")
        year = settings.census_year
        idle = _worker("idle", db.url, year, workdir / "idle.out")
        runs: dict[str, list[dict[str, Any]]] = {"stream": [], "census": [], "annex_a": []}
        reasons: dict[str, str] = {}
        plan = [("stream", "census")] * settings.census_repeats + [("annex_a",)]
        for modes in plan:
            for mode in modes:
                target = workdir / {"stream": "stream.out", "census": "cin_census.xml",
                                    "annex_a": "annex_a.xlsx"}[mode]
                if mode in reasons:
                    continue
                if mode == "annex_a" and "annex_a" in problems:
                    reasons[mode] = problems["annex_a"]
                    continue
                try:
                    runs[mode].append(_worker(mode, db.url, year, target))
                except Exception as exc:
                    reasons[mode] = f"{type(exc).__name__}: {exc}"
                    log(f"  {mode} failed: {reasons[mode]}")
        out["idle_process_peak_mb"] = round(idle["peak_rss_mb"], 1)
        for mode, key in (("stream", "stream"), ("census", "census"), ("annex_a", "annex_a")):
            samples = runs[mode]
            if not samples:
                out[f"{key}_s"] = None
                out[f"{key}_peak_mb"] = None
                out[f"{key}_reason"] = reasons.get(mode, "not run")
                continue
            out[f"{key}_s"] = round(median([s["seconds"] for s in samples]), 2)
            out[f"{key}_peak_mb"] = round(median([s["peak_rss_mb"] for s in samples]), 1)
            out[f"{key}_samples_s"] = [round(s["seconds"], 2) for s in samples]
            out[f"{key}_summary"] = samples[-1]["summary"]
        if runs["census"]:
            size = (workdir / "cin_census.xml").stat().st_size
            out["census_file_mb"] = round(size / 1024 / 1024, 1)
            log(f"  CIN census: {out['census_s']} s, peak {out['census_peak_mb']} MB "
                f"(stream only {out.get('stream_s')} s, {out.get('stream_peak_mb')} MB)")
        if runs["annex_a"]:
            log(f"  Annex A: {out['annex_a_s']} s, peak {out['annex_a_peak_mb']} MB")
        slow = out.get("census_s") is not None and (out["census_s"] > CENSUS_TARGET_S or
                                                     out["census_peak_mb"] > CENSUS_TARGET_MB)
        if slow and not settings.smoke:  # a missed target: where does the time go?
            profile = PROFILE_DIR / "cin_census_100k.txt"
            PROFILE_DIR.mkdir(exist_ok=True)
            try:
                _worker("census-profile", db.url, year, profile)
                out["census_profile"] = str(profile.relative_to(ROOT.parent))
                log(f"  profile written: {out['census_profile']}")
            except Exception as exc:
                out["census_profile"] = f"failed: {type(exc).__name__}: {exc}"
    return out


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno}"


def _build(db: Any, generate_stories: Any, story_to_record: Any, n: int, year: int,
           pack_name: str, pack_version: str) -> dict[str, Any]:
    writer = BulkWriter(pack_name, pack_version)
    samples: list[tuple[int, Any]] = []
    generate_s = convert_s = write_s = 0.0
    batch: list[tuple[Any, str | None]] = []
    count = 0
    start = time.perf_counter()
    stories = iter(generate_stories(n, SEED, year))

    def flush() -> None:
        nonlocal write_s
        t0 = time.perf_counter()
        with Session(db.engine) as session, session.begin():
            writer.write(session, batch)
        write_s += time.perf_counter() - t0
        batch.clear()

    while True:
        t0 = time.perf_counter()
        story = next(stories, None)
        t1 = time.perf_counter()
        generate_s += t1 - t0
        if story is None:
            break
        record = story_to_record(story)
        convert_s += time.perf_counter() - t1
        count += 1
        worker = story.get("worker") if isinstance(story, dict) else None
        batch.append((record, worker or f"worker{count % 60:02d}"))
        if count % 997 == 1:
            samples.append((count, record))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    if count != n:
        raise RuntimeError(f"generate_stories({n}) gave {count} stories")
    with Session(db.engine) as session:
        checked = check_round_trip(session, samples)
    return {"build_s": round(time.perf_counter() - start, 1),
            "simulate_s": round(generate_s, 1), "story_to_record_s": round(convert_s, 1),
            "write_s": round(write_s, 1), "round_trip_checked": checked}
