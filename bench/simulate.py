"""Figure: ``carepath simulate`` throughput (children recorded per second through the real pack).

The same seeded children (``carepath.service.simulation.simulate``, the story runner through the
case service) are recorded three ways in one run:

* ``durable``: a SQLite file with the default settings, each completion committed and synced —
  what ``carepath simulate --db sqlite:///file.db`` did before this figure existed (the baseline);
* ``no_sync``: the same file without waiting for the disk (``--no-sync``);
* ``memory``: an in-memory SQLite database (no durable commit at all).

``simulate_children_per_s`` is the fastest of them, ``simulate_speedup_vs_durable`` its ratio to
the durable baseline measured in the same run (issue 11 point 7 asks for >= 10).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import Settings, log

PACK = "wt2023"
SEED = 11
TARGET_SPEEDUP = 10.0


def _engine(mode: str, workdir: Path) -> Any:
    from carepath.adapters.db.database import make_engine, upgrade
    from carepath.adapters.db.scratch import memory_engine, throwaway_engine

    path = workdir / f"simulate-{mode}.db"
    if path.exists():
        path.unlink()
    engine = {"durable": lambda: make_engine(f"sqlite:///{path}"),
              "no_sync": lambda: throwaway_engine(path),
              "memory": memory_engine}[mode]()
    upgrade(engine)
    return engine


def _rate(mode: str, children: int, workdir: Path) -> float:
    from carepath.adapters.app import case_service
    from carepath.service.simulation import simulate

    engine = _engine(mode, workdir)
    try:
        service = case_service(engine)
        pack = service.packs.get(PACK)
        simulate(service, pack, 2, SEED + 1000)  # warm: pack specs, caches
        started = time.perf_counter()
        summary = simulate(service, pack, children, SEED)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    assert summary.children == children
    return round(children / seconds, 2)


def run(settings: Settings, workdir: Path) -> dict[str, Any]:
    children = settings.simulate_children
    per_mode: dict[str, float] = {}
    for mode in ("durable", "no_sync", "memory"):
        per_mode[mode] = _rate(mode, children, workdir)
        log(f"simulate ({mode}): {per_mode[mode]} children/s ({children} children, {PACK})")
    best = max(per_mode.values())
    return {"pack": PACK, "children": children, "children_per_s_by_mode": per_mode,
            "simulate_children_per_s": best,
            "simulate_baseline_children_per_s": per_mode["durable"],
            "simulate_speedup_vs_durable": round(best / per_mode["durable"], 2),
            "target_speedup": TARGET_SPEEDUP}
