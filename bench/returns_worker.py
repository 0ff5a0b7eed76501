"""One returns step in a process of its own, so that its peak RSS is its own.

    python -m bench.returns_worker {census|annex_a|stream|idle|census-profile} DB_URL YEAR OUT
    python -m bench.returns_worker {ssda903|ssda903-profile} DB_URL YEAR FOLDER [PROFILE]

Prints one JSON line: the seconds of the step (reading every record from the database through
``iter_cases`` and writing the return), the process's peak RSS after imports and at the end, and
what the return summarised. ``stream`` reads the records and writes nothing (the baseline);
``idle`` only imports (the interpreter's own footprint); ``census-profile`` runs the census under
cProfile and writes the profile text to OUT. ``ssda903`` runs the SSDA903 exactly as
``carepath returns ssda903`` does (``ReturnsService.ssda903`` over ``SqlCaseSource``: one
snapshot, the children with a looked-after record streamed, the CSV files written into FOLDER);
``ssda903-profile`` the same under cProfile, the profile text to PROFILE.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import date
from typing import Any


def _peak_mb() -> float:
    """This process's peak resident set size in MB. VmHWM, not ru_maxrss: on Linux ru_maxrss
    survives exec, so a child of a big parent would report the parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str]) -> int:
    if argv[0].startswith("ssda903"):
        return _ssda903(argv)
    mode, url, year_text, out = argv
    year = int(year_text)
    from sqlalchemy.orm import Session

    from carepath.adapters.db.database import make_engine
    from carepath.adapters.db.record_stream import iter_cases

    profiler = None
    if mode == "census-profile":  # the census under cProfile; OUT is the profile text
        import cProfile

        mode, profile_path, out = "census", out, os.devnull
        profiler = cProfile.Profile()
    if mode == "census":
        from carepath.returns.cin_census import write_cin_census
    elif mode == "annex_a":
        from carepath.returns.annex_a import write_annex_a

    engine = make_engine(url)
    peak_after_imports = _peak_mb()
    summary: Any = None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    if mode != "idle":
        with engine.connect() as connection, connection.begin() as transaction:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN")  # one read snapshot, as the CLI takes
            with Session(bind=connection) as session:
                cases = iter_cases(session)
                if mode == "census":
                    with open(out, "wb") as handle:
                        census = write_cin_census(cases, year, "201", handle)
                    summary = {"children": census.children, "episodes": census.episodes}
                elif mode == "annex_a":
                    # Annex A covers six months: the last six of the census year
                    annex = write_annex_a(cases, out, date(year - 1, 10, 1), date(year, 3, 31))
                    summary = {"rows": dict(annex.rows)}
                elif mode == "stream":
                    count = 0
                    for _ in cases:
                        count += 1
                    summary = {"cases": count}
                else:
                    raise SystemExit(f"unknown mode {mode!r}")
            transaction.rollback()
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - start
    engine.dispose()
    if profiler is not None:
        _write_profile(profiler, profile_path, seconds, summary)
    print(json.dumps({"mode": mode, "seconds": seconds, "peak_rss_mb": _peak_mb(),
                      "peak_rss_after_imports_mb": peak_after_imports, "summary": summary}))
    return 0


def _ssda903(argv: list[str]) -> int:
    mode, url, year_text, folder = argv[:4]
    from pathlib import Path

    from carepath.adapters.db.database import make_engine
    from carepath.adapters.db.record_stream import SqlCaseSource
    from carepath.service.returns import ReturnsService

    engine = make_engine(url)
    service = ReturnsService(SqlCaseSource(engine))
    peak_after_imports = _peak_mb()
    profiler = None
    if mode == "ssda903-profile":
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start, cpu = time.perf_counter(), time.process_time()
    result = service.ssda903(Path(folder), int(year_text))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
    engine.dispose()
    summary = {"children": result.children, "rows": dict(result.rows),
               "problems": len(result.problems),
               "first_problems": [str(p) for p in result.problems[:5]]}
    if profiler is not None:
        _write_profile(profiler, argv[4], seconds, summary, "SSDA903 via ReturnsService")
    print(json.dumps({"mode": mode, "seconds": seconds, "cpu_s": cpu, "peak_rss_mb": _peak_mb(),
                      "peak_rss_after_imports_mb": peak_after_imports, "summary": summary}))
    return 0


def _write_profile(profiler: Any, path: str, seconds: float, summary: Any,
                   what: str = "CIN census over iter_cases") -> None:
    import io
    import pstats
    import re

    out = io.StringIO()
    out.write(f"# cProfile: {what} (SQLite), {summary}, "
              f"{seconds:.1f} s under the profiler (profiling adds overhead)\n\n")
    for title, sort, limit in (("by cumulative time", "cumulative", 50),
                               ("by own time", "tottime", 40)):
        out.write(f"## {title}\n")
        pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(limit)
    text = re.sub(r"\S*/site-packages/", "site-packages/", out.getvalue())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace(root + "/", ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
