"""The benchmark harness in its smoke mode (toy sizes, seconds), so that it cannot rot.

No timing is asserted: benchmarks are not part of pass/fail. What is asserted is that every
figure ran (or says why not) and that results.json has the keys the benchmark issue names, each a
number (or object of numbers) or null with a ``<key>_reason``. PostgreSQL is included when
``CAREPATH_TEST_POSTGRES_URL`` is set, as for the rest of the suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = [
    "completion_p50_ms", "completion_ratio_1000_vs_10", "raw_spiff_p50_ms_at_1000",
    "speedup_vs_raw_spiff_at_1000", "throughput_per_s", "raw_commit_per_s",
    "throughput_vs_commit_ratio", "cin_census_100k_s", "cin_census_100k_peak_mb",
    "pack_check_s", "web_inbox_p95_ms", "web_case_p95_ms", "migrate_10k_version_s",
    "migrate_10k_version_peak_mb", "migrate_10k_replay_s", "migrate_10k_replay_peak_mb",
    "simulate_children_per_s", "simulate_baseline_children_per_s", "simulate_speedup_vs_durable",
    "ssda903_100k_s", "ssda903_100k_rss_mb", "machine",
]


def _numbers(value: object) -> bool:
    if isinstance(value, dict):
        return all(_numbers(v) or v is None for v in value.values())
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_smoke_run_writes_every_required_key(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out), "--no-markdown",
         "--workdir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())

    assert results["run"]["mode"] == "smoke"
    assert results["run"]["errors"] is None
    for key in REQUIRED:
        assert key in results, key
        value = results[key]
        if key == "machine":
            assert {"cpu", "cores", "ram_gb", "os", "python", "sqlite", "postgresql"} <= set(value)
        elif value is None:
            assert results.get(f"{key}_reason"), f"{key} is null without a reason"
        else:
            assert _numbers(value), (key, value)
    # figure 1 measured real completions at every smoke checkpoint, against raw Spiff
    assert set(results["completion_p50_ms"]) == {"8", "12"}
    sqlite = results["details"]["history"]["per_db"]["sqlite"]
    assert set(sqlite["raw_spiff_p50_ms"]) == {"8", "12"}
    # figure 2 checked that a successor task is in the inbox right after the commit
    assert results["details"]["throughput"]["per_db"]["sqlite"]["inbox_visible_after_commit"]
    # ...with one process and with two (worker processes on the same database), each reported
    by_processes = results["throughput_per_s_by_processes"]
    assert set(by_processes) == {"1", "2"} and all(v > 0 for v in by_processes.values())
    assert results["throughput_per_s"] == max(by_processes.values())
    # figure 5 served the inbox and case files through gunicorn to signed-in clients
    web = results["details"]["web"]["per_db"]["sqlite"]
    for phase in ("paced", "saturation"):
        for kind in ("inbox", "case"):
            assert web[phase][kind]["count"] > 0 and web[phase][kind]["errors"] == 0, \
                (phase, kind, web[phase][kind])
    assert web["case_viewed_events_written"] > 0
    assert results["web_case_p95_ms"] is not None and results["web_cases"] == web["cases"]
    # figure 7 moved every open case, to a new version of wt2023 and from ics2010 to wt2023
    migrate = results["details"]["migrate"]["per_db"]["sqlite"]
    for what, strategy in (("version", "instance"), ("replay", "replay")):
        run = migrate[what]
        assert run["strategy"] == strategy
        assert run["statuses"] == {"moved": run["cases"]} and run["cases"] > 0, run
        assert run["migrated_events"] == run["cases"]
    # figure 8 wrote the SSDA903 of every synthetic child through the service, on each database,
    # and (where the DfE rules are installed) the rules found no error in it
    lac = results["details"]["ssda903"]["per_db"]
    for db, figure in lac.items():
        assert figure["rows"]["Header"] == results["ssda903_children"], db
        assert figure["validation"]["errors"] in (0, None), (db, figure["validation"])
    if importlib.util.find_spec("lac_validator") is not None:
        assert results["ssda903_dfe_rule_errors"] == 0
    # the table printed at the end
    assert "carepath benchmarks" in done.stdout
