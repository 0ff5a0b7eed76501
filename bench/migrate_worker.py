"""One ``carepath migrate`` run in a process of its own, so its peak RSS is its own.

    python -m bench.migrate_worker OUT_FILE -- carepath arguments...

Runs the carepath command line in this process with its standard output to ``OUT_FILE``, samples
the resident set size every 0.2 s, and prints one JSON line: seconds, exit code, peak RSS (VmHWM)
and the RSS samples (seconds since start, MB, bytes of output written so far: the report grows
with the cases done, so RSS can be read against progress).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time

from bench.returns_worker import _peak_mb


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main(argv: list[str]) -> int:
    out_file, dashes, *args = argv
    assert dashes == "--", "usage: OUT_FILE -- carepath arguments"
    from carepath.cli import main as carepath

    import_mb = _peak_mb()
    samples: list[tuple[float, float, int]] = []
    done = threading.Event()
    start = time.perf_counter()

    out = open(out_file, "w", encoding="utf-8")  # noqa: SIM115 - closed below

    def sample() -> None:
        while not done.wait(0.2):
            samples.append((round(time.perf_counter() - start, 1), round(_rss_mb(), 1),
                            os.fstat(out.fileno()).st_size))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = 0
    with out, contextlib.redirect_stdout(out):
        try:
            returned = carepath.main(args=args, prog_name="carepath", standalone_mode=False)
            code = returned if isinstance(returned, int) else 0
        except SystemExit as exc:  # ctx.exit(1) when cases were refused
            code = int(exc.code or 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    print(json.dumps({"seconds": seconds, "exit_code": code, "peak_rss_mb": _peak_mb(),
                      "peak_rss_after_imports_mb": import_mb, "rss_samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
