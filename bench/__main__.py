"""``python -m bench``: run every benchmark figure, print a table, write bench/results.json.

    python -m bench                 # the full run (< 25 minutes on 2 cores); updates BENCHMARKS.md
    python -m bench --smoke         # seconds: every figure at toy size (used by the test suite)
    python -m bench --only history,throughput --out /tmp/r.json

PostgreSQL figures need ``CAREPATH_BENCH_POSTGRES_URL`` (or ``CAREPATH_TEST_POSTGRES_URL``, or
``--postgres URL``); without one they are reported as null with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, Settings, configured_postgres, log, machine

FIGURES = ("history", "throughput", "returns", "packcheck", "web", "migrate", "simulate",
           "ssda903")
RESULTS = ROOT / "results.json"
MARKDOWN = ROOT.parent / "BENCHMARKS.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
STRETCH_REASON = ("stretch figure not attempted in this run: needs the bpmn-engine npm package "
                  "and a Node.js runner for the same referral-to-closure process")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.profiles is None:
        args.profiles = not args.smoke and not args.only
    settings = Settings.smoke_settings() if args.smoke else Settings.full()
    if args.only:
        settings.only = {f.strip() for f in args.only.split(",") if f.strip()}
        unknown = settings.only - set(FIGURES)
        if unknown:
            raise SystemExit(f"unknown figure(s) {sorted(unknown)}: choose from {FIGURES}")
    postgres, pg_reason = (None, "disabled with --no-postgres") if args.no_postgres else \
        configured_postgres(args.postgres)
    settings.postgres_url = postgres
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    out_path = Path(args.out) if args.out else (None if args.smoke else RESULTS)
    started = time.perf_counter()
    commit = _git_commit()
    log(f"{'smoke' if args.smoke else 'full'} run; databases: {', '.join(kinds)}"
        + (f" (PostgreSQL: {pg_reason})" if pg_reason else ""))

    errors: dict[str, str] = {}
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="carepath-bench-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        info = machine(postgres, workdir)
        script = None
        if settings.wants("history") or settings.wants("throughput") or settings.wants("web") \
                or settings.wants("migrate") or args.profiles:
            from bench.cases import record_script

            script = record_script()
        for figure in FIGURES:
            if not settings.wants(figure):
                continue
            try:
                figures[figure] = _run_figure(figure, settings, script, kinds, workdir)
            except Exception as exc:  # reported as null with the reason; the run goes on
                traceback.print_exc()
                errors[figure] = f"{type(exc).__name__}: {exc}"
        results = assemble(figures, errors, settings, info, pg_reason)
        results["run"]["seconds"] = round(time.perf_counter() - started, 1)
        if results["run"]["commit"] != commit:  # the code changed under the run
            results["run"]["commit_at_start"] = commit
        if args.profiles and script is not None:
            results["profiles"] = _profiles(results, script, workdir)
    results["run"]["seconds_with_profiles"] = round(time.perf_counter() - started, 1)
    if out_path is not None:
        tmp_path = out_path.with_name(out_path.name + ".tmp")
        tmp_path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
        tmp_path.replace(out_path)
        log(f"results written to {out_path}")
    if not args.smoke and args.markdown and not settings.only:
        update_markdown(results, MARKDOWN)
        log(f"{MARKDOWN.name} updated")
    print_table(results)
    if errors:
        log(f"figures that failed: {', '.join(sorted(errors))}")
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="toy sizes, runs in seconds")
    parser.add_argument("--only", help=f"comma-separated figures: {', '.join(FIGURES)}")
    parser.add_argument("--out", help="where to write the results JSON (default: "
                        "bench/results.json for a full run, nowhere for --smoke)")
    parser.add_argument("--postgres", help="PostgreSQL URL (default: "
                        "$CAREPATH_BENCH_POSTGRES_URL or $CAREPATH_TEST_POSTGRES_URL)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--workdir", help="folder for the benchmark databases (default: the "
                        "system temporary folder)")
    parser.add_argument("--no-markdown", dest="markdown", action="store_false",
                        help="do not update the results section of BENCHMARKS.md")
    parser.add_argument("--profiles", dest="profiles", action="store_true", default=None,
                        help="write cProfile text for missed targets to bench/profiles/ "
                        "(default: on for a full run)")
    parser.add_argument("--no-profiles", dest="profiles", action="store_false")
    return parser


def _run_figure(figure: str, settings: Settings, script: Any, kinds: list[str],
                workdir: Path) -> dict[str, Any]:
    if figure == "history":
        from bench import history

        return history.run(settings, script, kinds, workdir, settings.postgres_url)
    if figure == "throughput":
        from bench import throughput

        return throughput.run(settings, script, kinds, workdir, settings.postgres_url)
    if figure == "returns":
        from bench import returns

        return returns.run(settings, workdir)
    if figure == "web":
        from bench import web

        return web.run(settings, script, kinds, workdir, settings.postgres_url)
    if figure == "migrate":
        from bench import migrate

        return migrate.run(settings, script, kinds, workdir, settings.postgres_url)
    if figure == "simulate":
        from bench import simulate

        return simulate.run(settings, workdir)
    if figure == "ssda903":
        from bench import ssda903

        return ssda903.run(settings, kinds, workdir, settings.postgres_url)
    from bench import packcheck

    return packcheck.run(settings)


# --- results.json ------------------------------------------------------------------------------


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT.parent,
                              capture_output=True, text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "carepath"],
                               cwd=ROOT.parent, capture_output=True, text=True, timeout=10,
                               check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() + (" (carepath/ has uncommitted changes)"
                                  if dirty.stdout.strip() else "")


def assemble(figures: dict[str, Any], errors: dict[str, str], settings: Settings,
             info: dict[str, Any], pg_reason: str | None) -> dict[str, Any]:
    """The results document: the keys the issue names at the top (SQLite, the default
    database, where a figure is per database), per-database objects beside them, details below."""
    r: dict[str, Any] = {}

    def null(key: str, reason: str) -> None:
        r[key] = None
        r[f"{key}_reason"] = reason

    # figure 1
    hist = figures.get("history")
    if hist is None:
        reason = _why_missing("history", errors, settings)
        for key in ("completion_p50_ms", "completion_p99_ms", "completion_ratio_1000_vs_10",
                    "raw_spiff_p50_ms_at_1000", "speedup_vs_raw_spiff_at_1000"):
            null(key, reason)
    else:
        per_db = hist["per_db"]
        r["completion_p50_ms"] = per_db["sqlite"]["carepath_p50_ms"]
        r["completion_p99_ms"] = per_db["sqlite"]["carepath_p99_ms"]
        r["completion_p50_ms_by_db"] = {k: v["carepath_p50_ms"] for k, v in per_db.items()}
        r["completion_p99_ms_by_db"] = {k: v["carepath_p99_ms"] for k, v in per_db.items()}
        ratios = {k: _ratio(v["carepath_p50_ms"], "1000", "10") for k, v in per_db.items()}
        r["completion_ratio_1000_vs_10"] = ratios["sqlite"]
        r["completion_ratio_1000_vs_10_by_db"] = ratios
        at = {k: v["raw_spiff_p50_ms"].get("1000") for k, v in per_db.items()}
        r["raw_spiff_p50_ms_at_1000"] = at["sqlite"]
        r["raw_spiff_p50_ms_at_1000_by_db"] = at
        r["raw_spiff_p50_ms_by_db"] = {k: v["raw_spiff_p50_ms"] for k, v in per_db.items()}
        r["raw_spiff_p99_ms_by_db"] = {k: v["raw_spiff_p99_ms"] for k, v in per_db.items()}
        speedups = {k: v["speedup_vs_raw_spiff"].get("1000") for k, v in per_db.items()}
        r["speedup_vs_raw_spiff_at_1000"] = speedups["sqlite"]
        r["speedup_vs_raw_spiff_at_1000_by_db"] = speedups
        r["speedup_vs_raw_spiff_by_db"] = {k: v["speedup_vs_raw_spiff"]
                                           for k, v in per_db.items()}
        # the same with a cold record cache (the record read from the database every time)
        r["completion_cold_p50_ms"] = per_db["sqlite"]["carepath_cold_p50_ms"]
        r["completion_cold_p50_ms_by_db"] = {k: v["carepath_cold_p50_ms"]
                                             for k, v in per_db.items()}
        r["completion_cold_p99_ms_by_db"] = {k: v["carepath_cold_p99_ms"]
                                             for k, v in per_db.items()}
        cold_ratios = {k: _ratio(v["carepath_cold_p50_ms"], "1000", "10")
                       for k, v in per_db.items()}
        r["completion_cold_ratio_1000_vs_10"] = cold_ratios["sqlite"]
        r["completion_cold_ratio_1000_vs_10_by_db"] = cold_ratios
        cold_speedups = {k: v["cold_speedup_vs_raw_spiff"].get("1000")
                         for k, v in per_db.items()}
        r["cold_speedup_vs_raw_spiff_at_1000"] = cold_speedups["sqlite"]
        r["cold_speedup_vs_raw_spiff_at_1000_by_db"] = cold_speedups
        if "1000" not in per_db["sqlite"]["carepath_p50_ms"]:
            reason = "no checkpoint at 1,000 prior tasks in this run (smoke mode)"
            for key in ("completion_ratio_1000_vs_10", "raw_spiff_p50_ms_at_1000",
                        "speedup_vs_raw_spiff_at_1000", "completion_cold_ratio_1000_vs_10",
                        "cold_speedup_vs_raw_spiff_at_1000"):
                r[f"{key}_reason"] = reason
        if pg_reason:
            r["postgresql_reason"] = pg_reason
    # figure 2
    thr = figures.get("throughput")
    if thr is None:
        reason = _why_missing("throughput", errors, settings)
        for key in ("throughput_per_s", "raw_commit_per_s", "throughput_vs_commit_ratio"):
            null(key, reason)
    else:
        per_db = thr["per_db"]
        for key in ("throughput_per_s", "raw_commit_per_s", "throughput_vs_commit_ratio"):
            r[key] = per_db["sqlite"][key]
            r[f"{key}_by_db"] = {k: v[key] for k, v in per_db.items()}
        # the figure for each number of worker processes (throughput_per_s is the best of them)
        r["throughput_per_s_by_processes"] = per_db["sqlite"]["throughput_per_s_by_processes"]
        r["throughput_per_s_by_processes_by_db"] = {
            k: v["throughput_per_s_by_processes"] for k, v in per_db.items()}
    # figure 3
    ret = figures.get("returns")
    if ret is None:
        reason = _why_missing("returns", errors, settings)
        for key in ("cin_census_100k_s", "cin_census_100k_peak_mb", "annex_a_100k_s",
                    "annex_a_100k_peak_mb"):
            null(key, reason)
    else:
        for key, src in (("cin_census_100k", "census"), ("annex_a_100k", "annex_a")):
            if ret.get(f"{src}_s") is None:
                reason = ret.get(f"{src}_reason", "not measured")
                null(f"{key}_s", reason)
                null(f"{key}_peak_mb", reason)
            else:
                r[f"{key}_s"] = ret[f"{src}_s"]
                r[f"{key}_peak_mb"] = ret[f"{src}_peak_mb"]
        r["returns_children"] = ret["children"]
        r["records_stream_100k_s"] = ret.get("stream_s")
        r["records_stream_100k_peak_mb"] = ret.get("stream_peak_mb")
    # figure 4
    chk = figures.get("packcheck")
    if chk is None:
        null("pack_check_s", _why_missing("packcheck", errors, settings))
    else:
        r["pack_check_s"] = chk["pack_check_s"] if chk.get("checker") else None
        if chk.get("pack_check_s_reason"):
            r["pack_check_s_reason"] = chk["pack_check_s_reason"]
        r["pack_load_s"] = chk["pack_load_s"]
    # figure 5
    web = figures.get("web")
    if web is None or not web.get("per_db"):
        reason = _why_missing("web", errors, settings)
        for key in WEB_KEYS:
            null(key, reason)
    else:
        per_db = web["per_db"]
        for key, (phase, kind, stat) in WEB_KEYS.items():
            by_db = {db: (v[phase][kind][stat] if kind else v[phase][stat])
                     for db, v in per_db.items()}
            r[key] = by_db.get("sqlite")
            r[f"{key}_by_db"] = by_db
        for key in ("web_cases", "web_clients"):
            r[key] = per_db.get("sqlite", next(iter(per_db.values())))[key[4:]]
        r["web_server_workers"] = web["server_workers"]
        if settings.smoke:
            r["web_postgresql_reason"] = "smoke run: SQLite only"
        elif pg_reason:
            r["web_postgresql_reason"] = pg_reason
    # figure 7
    mig = figures.get("migrate")
    if mig is None or not mig.get("per_db"):
        reason = _why_missing("migrate", errors, settings)
        for key in MIGRATE_KEYS:
            null(key, reason)
    else:
        per_db = mig["per_db"]
        for key, (what, stat) in MIGRATE_KEYS.items():
            by_db = {db: v[what][stat] for db, v in per_db.items()}
            r[key] = by_db.get("sqlite")
            r[f"{key}_by_db"] = by_db
        r["migrate_cases"] = mig["cases"]
        if settings.smoke:
            r["migrate_postgresql_reason"] = "smoke run: SQLite only"
        elif pg_reason:
            r["migrate_postgresql_reason"] = pg_reason
    # figure 8: carepath simulate (issue 11 point 7)
    sim = figures.get("simulate")
    if sim is None:
        reason = _why_missing("simulate", errors, settings)
        for key in ("simulate_children_per_s", "simulate_baseline_children_per_s",
                    "simulate_speedup_vs_durable"):
            null(key, reason)
    else:
        for key in ("simulate_children_per_s", "simulate_baseline_children_per_s",
                    "simulate_speedup_vs_durable"):
            r[key] = sim[key]
        r["simulate_children_per_s_by_mode"] = sim["children_per_s_by_mode"]
    # figure 9: the SSDA903 (issue 11)
    lac = figures.get("ssda903")
    if lac is None or not lac.get("per_db"):
        reason = _why_missing("ssda903", errors, settings)
        for key in ("ssda903_100k_s", "ssda903_100k_rss_mb"):
            null(key, reason)
    else:
        per_db = lac["per_db"]
        for key, src in (("ssda903_100k_s", "seconds"), ("ssda903_100k_rss_mb", "peak_rss_mb")):
            r[key] = per_db["sqlite"][src]
            r[f"{key}_by_db"] = {k: v[src] for k, v in per_db.items()}
        r["ssda903_100k_cpu_s_by_db"] = {k: v["cpu_s"] for k, v in per_db.items()}
        r["ssda903_children"] = lac["children"]
        checked = per_db["sqlite"].get("validation") or {}
        r["ssda903_dfe_rule_errors"] = checked.get("errors")
        if checked.get("reason"):
            r["ssda903_dfe_rule_errors_reason"] = checked["reason"]
    # figure 6
    null("bpmn_engine_step_ratio", STRETCH_REASON)
    r["machine"] = info
    r["targets"] = targets(r, judged=not settings.smoke)
    r["run"] = {"mode": "smoke" if settings.smoke else "full",
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": _git_commit(), "errors": errors or None}
    r["details"] = figures
    return r


def _why_missing(figure: str, errors: dict[str, str], settings: Settings) -> str:
    if figure in errors:
        return f"the {figure} figure failed: {errors[figure]}"
    if not settings.wants(figure):
        return f"not run (--only {','.join(sorted(settings.only))})"
    return "not measured"


def _ratio(values: dict[str, float], top: str, bottom: str) -> float | None:
    if top not in values or bottom not in values or not values[bottom]:
        return None
    return round(values[top] / values[bottom], 3)


TARGETS: list[tuple[str, str, str, float]] = [
    ("completion_ratio_1000_vs_10", "completion cost at 1,000 / at 10 prior tasks", "<=", 1.5),
    ("speedup_vs_raw_spiff_at_1000", "speed-up over raw Spiff at 1,000", ">=", 20.0),
    ("completion_cold_ratio_1000_vs_10", "the same, record read from the database", "<=", 1.5),
    ("cold_speedup_vs_raw_spiff_at_1000", "the same, record read from the database", ">=",
     20.0),
    ("throughput_per_s", "completions per second (SQLite)", ">=", 500.0),
    ("throughput_vs_commit_ratio", "throughput / raw commit rate (SQLite)", ">=", 0.25),
    ("cin_census_100k_s", "CIN census, 100k children, seconds", "<=", 10.0),
    ("cin_census_100k_peak_mb", "CIN census, 100k children, peak RSS MB", "<=", 500.0),
    ("ssda903_100k_s", "SSDA903, 100k looked-after children, seconds", "<=", 15.0),
    ("ssda903_100k_rss_mb", "SSDA903, 100k looked-after children, peak RSS MB", "<=", 500.0),
    ("web_inbox_p95_ms", "web inbox p95 ms (50 clients, paced)", "<=", 100.0),
    ("web_case_p95_ms", "web case file p95 ms (50 clients, paced)", "<=", 100.0),
    ("migrate_10k_version_s", "migrate 10k open cases to a new pack version, seconds", "<=",
     60.0),
    ("migrate_10k_replay_s", "migrate 10k open cases ics2010 -> wt2023, seconds", "<=", 60.0),
    ("simulate_speedup_vs_durable", "carepath simulate: fastest way / every step written as "
     "taken, durable SQLite file (same run)", ">=", 10.0),
]
# results key -> (run, statistic) in the migrate figure's per-database details
MIGRATE_KEYS: dict[str, tuple[str, str]] = {
    "migrate_10k_version_s": ("version", "seconds"),
    "migrate_10k_version_peak_mb": ("version", "peak_rss_mb"),
    "migrate_10k_version_rss_growth_mb": ("version", "rss_growth_after_quarter_mb"),
    "migrate_10k_replay_s": ("replay", "seconds"),
    "migrate_10k_replay_peak_mb": ("replay", "peak_rss_mb"),
    "migrate_10k_replay_rss_growth_mb": ("replay", "rss_growth_after_quarter_mb"),
}
# results key -> (phase, kind, statistic) in the web figure's per-database details
WEB_KEYS: dict[str, tuple[str, str | None, str]] = {
    "web_inbox_p95_ms": ("paced", "inbox", "p95_ms"),
    "web_inbox_p50_ms": ("paced", "inbox", "p50_ms"),
    "web_inbox_p99_ms": ("paced", "inbox", "p99_ms"),
    "web_case_p95_ms": ("paced", "case", "p95_ms"),
    "web_case_p50_ms": ("paced", "case", "p50_ms"),
    "web_case_p99_ms": ("paced", "case", "p99_ms"),
    "web_rps": ("paced", None, "rps"),
    "web_saturation_rps": ("saturation", None, "rps"),
    "web_saturation_inbox_p95_ms": ("saturation", "inbox", "p95_ms"),
    "web_saturation_case_p95_ms": ("saturation", "case", "p95_ms"),
    "web_server_cpu_ms_per_request": ("paced", None, "server_cpu_ms_per_request"),
}


def targets(r: dict[str, Any], judged: bool = True) -> dict[str, Any]:
    """Each target with its value and whether it was met (None: not measured, or a smoke run,
    whose toy sizes say nothing about the targets)."""
    out: dict[str, Any] = {}

    def judge(value: Any, op: str, limit: float) -> bool | None:
        if not judged or not isinstance(value, int | float):
            return None
        return value <= limit if op == "<=" else value >= limit

    for key, title, op, limit in TARGETS:
        value = r.get(key)
        out[key] = {"title": title, "target": f"{op} {limit:g}", "value": value,
                    "met": judge(value, op, limit)}
        by_db = r.get(f"{key}_by_db")
        if isinstance(by_db, dict):
            out[key]["by_db"] = {k: {"value": v, "met": judge(v, op, limit)}
                                 for k, v in by_db.items()}
    checks = r.get("pack_check_s")
    if isinstance(checks, dict):
        for pack, value in checks.items():
            out[f"pack_check_s.{pack}"] = {"title": f"pack check {pack}, seconds",
                                           "target": "<= 1", "value": value,
                                           "met": judge(value, "<=", 1.0)}
    else:
        out["pack_check_s"] = {"title": "pack check, seconds", "target": "<= 1",
                               "value": None, "met": None}
    return out


# --- profiles ----------------------------------------------------------------------------------


def _profiles(results: dict[str, Any], script: Any, workdir: Path) -> dict[str, str]:
    """cProfile the operation behind each missed target (full run only)."""
    from bench.profiles import profile_completions

    t = results["targets"]
    written: dict[str, str] = {}
    missed = {k for k, v in t.items() if v.get("met") is False
              or any(d.get("met") is False for d in v.get("by_db", {}).values())}
    log("profiles for missed targets: " + (", ".join(sorted(missed)) or "none"))
    try:
        if missed & {"throughput_per_s", "throughput_vs_commit_ratio"}:
            path = profile_completions(script, workdir, prior=10, samples=200,
                                       name="completion_at_10_prior_tasks")
            written["completion_at_10"] = str(path.relative_to(ROOT.parent))
        if missed & {"completion_ratio_1000_vs_10", "speedup_vs_raw_spiff_at_1000"}:
            path = profile_completions(script, workdir, prior=1000, samples=60,
                                       name="completion_at_1000_prior_tasks")
            written["completion_at_1000"] = str(path.relative_to(ROOT.parent))
        if missed & {"completion_cold_ratio_1000_vs_10", "cold_speedup_vs_raw_spiff_at_1000"}:
            for prior, samples in ((1000, 60), (5000, 20)):
                path = profile_completions(script, workdir, prior=prior, samples=samples,
                                           name=f"completion_at_{prior}_prior_tasks_cold",
                                           cold=True)
                written[f"completion_at_{prior}_cold"] = str(path.relative_to(ROOT.parent))
    except Exception as exc:  # a profile is a help, not a figure
        traceback.print_exc()
        written["error"] = f"{type(exc).__name__}: {exc}"
    return written


# --- output ------------------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            text = f"{value:,.0f}"
        elif abs(value) >= 1:
            text = f"{value:,.2f}".rstrip("0").rstrip(".")
        else:
            text = f"{value:.3f}".rstrip("0").rstrip(".")
    else:
        text = str(value)
    return f"{text}{unit}"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, measure, carepath, baseline, target, met) for the table and BENCHMARKS.md."""
    out: list[tuple[str, str, str, str, str, str]] = []
    t = r.get("targets", {})

    def met(key: str, db: str | None = None) -> str:
        entry = t.get(key, {})
        value = entry.get("by_db", {}).get(db, {}).get("met") if db else entry.get("met")
        return {True: "yes", False: "NO", None: "—"}[value]

    p50 = r.get("completion_p50_ms_by_db") or {}
    p99 = r.get("completion_p99_ms_by_db") or {}
    c50 = r.get("completion_cold_p50_ms_by_db") or {}
    c99 = r.get("completion_cold_p99_ms_by_db") or {}
    spiff = r.get("raw_spiff_p50_ms_by_db") or {}
    spiff99 = r.get("raw_spiff_p99_ms_by_db") or {}
    for db in p50:
        for count in p50[db]:
            out.append((f"1 completion ({db})",
                        f"{int(count):,} prior tasks: p50 / p99; record cached, and read",
                        f"{_fmt(p50[db][count])} / {_fmt(p99[db].get(count))} ms; "
                        f"{_fmt(c50.get(db, {}).get(count))} / "
                        f"{_fmt(c99.get(db, {}).get(count))} ms",
                        f"raw Spiff {_fmt(spiff[db].get(count))} / "
                        f"{_fmt(spiff99[db].get(count))} ms", "", ""))
        for suffix, label in (("", "record cached"), ("cold_", "record read")):
            ratio = r.get(f"completion_{suffix}ratio_1000_vs_10_by_db") or {}
            speed = r.get(f"{suffix}speedup_vs_raw_spiff_at_1000_by_db") or {}
            out.append((f"1 completion ({db})", f"cost at 1,000 / cost at 10 ({label})",
                        _fmt(ratio.get(db)), "", "<= 1.5",
                        met(f"completion_{suffix}ratio_1000_vs_10", db)))
            out.append((f"1 completion ({db})", f"speed-up over raw Spiff at 1,000 ({label})",
                        _fmt(speed.get(db), "x"), "1x", ">= 20x",
                        met(f"{suffix}speedup_vs_raw_spiff_at_1000", db)))
    if not p50:
        out.append(("1 completion", "p50 by history", "—", "—", "",
                    r.get("completion_p50_ms_reason", "")))
    thr = r.get("throughput_per_s_by_db") or {}
    raw = r.get("raw_commit_per_s_by_db") or {}
    ratio = r.get("throughput_vs_commit_ratio_by_db") or {}
    by_processes = r.get("throughput_per_s_by_processes_by_db") or {}
    for db in thr:
        counts = by_processes.get(db) or {}
        for n, value in counts.items():
            out.append((f"throughput ({db})", f"completions/s with {n} process"
                        + ("es" if n != "1" else ""), _fmt(value, "/s"), "", "", ""))
        out.append((f"throughput ({db})",
                    "completions/s (best of " + ", ".join(counts) + " processes) vs raw "
                    "1-row commits/s" if counts else "completions/s vs raw 1-row commits/s",
                    _fmt(thr[db], "/s"), _fmt(raw.get(db), "/s"),
                    ">= 500/s" if db == "sqlite" else "", met("throughput_per_s", db)
                    if db == "sqlite" else ""))
        out.append((f"throughput ({db})", "throughput / raw commit rate",
                    _fmt(ratio.get(db)), "1", ">= 0.25",
                    met("throughput_vs_commit_ratio", db)))
    if not thr:
        out.append(("throughput", "completions/s", "—", "—", ">= 500/s",
                    r.get("throughput_per_s_reason", "")))
    n = r.get("returns_children")
    label = f"{n:,}" if isinstance(n, int) else "100,000"
    stream = r.get("records_stream_100k_s")
    out.append(("returns", f"CIN census, {label} children: seconds",
                _fmt(r.get("cin_census_100k_s"), " s"),
                f"read only {_fmt(stream, ' s')}" if stream is not None else "—", "<= 10 s",
                met("cin_census_100k_s") if r.get("cin_census_100k_s") is not None
                else r.get("cin_census_100k_s_reason", "")[:60]))
    out.append(("returns", f"CIN census, {label} children: peak RSS",
                _fmt(r.get("cin_census_100k_peak_mb"), " MB"),
                _fmt(r.get("records_stream_100k_peak_mb"), " MB"), "<= 500 MB",
                met("cin_census_100k_peak_mb") if r.get("cin_census_100k_peak_mb") is not None
                else "—"))
    out.append(("returns", f"Annex A, {label} children: seconds / peak RSS",
                f"{_fmt(r.get('annex_a_100k_s'), ' s')} / "
                f"{_fmt(r.get('annex_a_100k_peak_mb'), ' MB')}", "", "",
                "" if r.get("annex_a_100k_s") is not None
                else r.get("annex_a_100k_s_reason", "")[:60]))
    n = r.get("ssda903_children")
    label = f"{n:,}" if isinstance(n, int) else "100,000"
    lac_s = r.get("ssda903_100k_s_by_db") or {}
    lac_mb = r.get("ssda903_100k_rss_mb_by_db") or {}
    for db in lac_s:
        out.append((f"SSDA903 ({db})", f"{label} looked-after children: seconds / peak RSS",
                    f"{_fmt(lac_s[db], ' s')} / {_fmt(lac_mb.get(db), ' MB')}", "",
                    "<= 15 s, <= 500 MB",
                    "yes" if met("ssda903_100k_s", db) == met("ssda903_100k_rss_mb", db) == "yes"
                    else ("NO" if "NO" in (met("ssda903_100k_s", db),
                                           met("ssda903_100k_rss_mb", db)) else "—")))
    if not lac_s:
        out.append(("SSDA903", f"{label} looked-after children: seconds / peak RSS", "—", "",
                    "<= 15 s, <= 500 MB", (r.get("ssda903_100k_s_reason") or "")[:60]))
    checks = r.get("pack_check_s")
    loads = r.get("pack_load_s") or {}
    if isinstance(checks, dict):
        for pack, value in checks.items():
            out.append(("pack check", pack, _fmt(value, " s"),
                        f"build {_fmt(loads.get(pack), ' s')}", "<= 1 s",
                        met(f"pack_check_s.{pack}") if value is not None
                        else r.get("pack_check_s_reason", "")[:60]))
    else:
        for pack, value in loads.items():
            out.append(("pack check", pack, "—", f"build {_fmt(value, ' s')}", "<= 1 s",
                        (r.get("pack_check_s_reason") or "")[:60]))
    inbox = r.get("web_inbox_p95_ms_by_db") or {}
    for db in inbox:
        def web(key: str, db: str = db) -> Any:
            return (r.get(f"{key}_by_db") or {}).get(db)

        n = r.get("web_cases")
        who = f"{n:,} open cases, {r.get('web_clients')} clients" if isinstance(n, int) else \
            f"{r.get('web_clients')} clients"
        out.append((f"5 web ({db})", f"inbox p50 / p95 / p99, {who}, paced",
                    f"{_fmt(web('web_inbox_p50_ms'))} / {_fmt(web('web_inbox_p95_ms'))} / "
                    f"{_fmt(web('web_inbox_p99_ms'))} ms", "", "p95 <= 100 ms",
                    met("web_inbox_p95_ms", db)))
        out.append((f"5 web ({db})", "case file p50 / p95 / p99 (each view writes an event)",
                    f"{_fmt(web('web_case_p50_ms'))} / {_fmt(web('web_case_p95_ms'))} / "
                    f"{_fmt(web('web_case_p99_ms'))} ms", "", "p95 <= 100 ms",
                    met("web_case_p95_ms", db)))
        out.append((f"5 web ({db})", "requests/s paced; flat out (p95 inbox / case flat out)",
                    f"{_fmt(web('web_rps'))}/s; {_fmt(web('web_saturation_rps'))}/s "
                    f"({_fmt(web('web_saturation_inbox_p95_ms'))} / "
                    f"{_fmt(web('web_saturation_case_p95_ms'))} ms)", "", "", ""))
        out.append((f"5 web ({db})", "server CPU per request (all gunicorn processes)",
                    f"{_fmt(web('web_server_cpu_ms_per_request'))} ms", "", "", ""))
    if not inbox:
        out.append(("5 web", "inbox p95 under load", "—", "", "<= 100 ms",
                    (r.get("web_inbox_p95_ms_reason") or "")[:60]))
    n = r.get("migrate_cases")
    label = f"{n:,}" if isinstance(n, int) else "10,000"
    for db in r.get("migrate_10k_version_s_by_db") or {}:
        for what, title in (("version", "to a new version of wt2023"),
                            ("replay", "ics2010 -> wt2023 (replayed)")):
            seconds = (r.get(f"migrate_10k_{what}_s_by_db") or {}).get(db)
            peak = (r.get(f"migrate_10k_{what}_peak_mb_by_db") or {}).get(db)
            growth = (r.get(f"migrate_10k_{what}_rss_growth_mb_by_db") or {}).get(db)
            out.append((f"7 migrate ({db})", f"{label} open cases {title}: seconds; peak RSS "
                        "(growth after the first quarter)",
                        f"{_fmt(seconds, ' s')}; {_fmt(peak, ' MB')} (+{_fmt(growth, ' MB')})",
                        "", "<= 60 s", met(f"migrate_10k_{what}_s", db)))
    if not r.get("migrate_10k_version_s_by_db"):
        out.append(("7 migrate", "10,000 open cases", "—", "", "<= 60 s",
                    (r.get("migrate_10k_version_s_reason") or "")[:60]))
    modes = r.get("simulate_children_per_s_by_mode") or {}
    out.append(("8 simulate", "children/s (fastest way) and speed-up over step by step",
                f"{_fmt(r.get('simulate_children_per_s'))}/s, "
                f"x{_fmt(r.get('simulate_speedup_vs_durable'))}",
                ", ".join(f"{k} {_fmt(v)}/s" for k, v in modes.items()), ">= x10",
                met("simulate_speedup_vs_durable") if modes
                else (r.get("simulate_children_per_s_reason") or "")[:60]))
    out.append(("stretch", "bpmn-engine step cost ratio", "—", "", "", "not attempted"))
    return out


def print_table(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"carepath benchmarks ({r['run']['mode']} run, "
                        f"{r['run'].get('seconds', '?')} s)")
    for column in ("figure", "measure", "carepath", "baseline (same run)", "target", "met"):
        table.add_column(column, overflow="fold")
    for row in rows(r):
        table.add_row(*row)
    Console(width=max(120, int(os.environ.get("COLUMNS", "0") or 0))).print(table)


def render_markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [BEGIN, "",
             f"Run finished {r['run']['finished']} (commit {r['run']['commit']}), "
             f"{r['run']['seconds']} s for the figures.", "",
             f"**Machine:** {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; {m['os']}; "
             f"Python {m['python']}; SQLite {m['sqlite']}; PostgreSQL {m['postgresql']}; "
             f"SQLAlchemy {m['sqlalchemy']}; SpiffWorkflow {m['spiffworkflow']}; benchmark "
             f"databases on {m['bench_dir_filesystem']}; load average at start "
             f"{m['load_average_at_start']}.", "",
             "| figure | measure | carepath | baseline (same run) | target | met |",
             "|---|---|---|---|---|---|"]
    for row in rows(r):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    lines += ["", "Full numbers (every sample set, per database): `bench/results.json`.", "",
              END]
    return "\n".join(lines)


def update_markdown(r: dict[str, Any], path: Path) -> None:
    block = render_markdown(r)
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + block + tail, encoding="utf-8")
            return
        path.write_text(text.rstrip() + "\n\n## Latest full run\n\n" + block + "\n",
                        encoding="utf-8")
        return
    path.write_text("# Benchmarks\n\n`make bench` (`python -m bench`) writes the section below "
                    "and `bench/results.json`.\n\n## Latest full run\n\n" + block + "\n",
                    encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
