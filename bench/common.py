"""Shared pieces of the benchmark harness: settings, databases, statistics, the machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from carepath.adapters.db.database import dispose_engine, make_engine, normalise_url, upgrade

POSTGRES_ENVS = ("CAREPATH_BENCH_POSTGRES_URL", "CAREPATH_TEST_POSTGRES_URL")
ROOT = Path(__file__).resolve().parent


@dataclass
class Settings:
    """How big each figure is. ``full()`` is the real run; ``smoke()`` finishes in seconds."""

    smoke: bool
    # figure 1: completion cost vs history
    checkpoints: tuple[int, ...] = (10, 100, 1000, 5000)
    history_cases: int = 10  # cases per checkpoint (one sample each per round)
    history_rounds: int = 3  # rounds of one completion per case, all checkpoints
    real_history_up_to: int = 20  # below this, history is built by real store completions
    # figure 2: throughput
    throughput_cases: int = 60
    throughput_repeats: int = 3
    commit_sample_s: float = 1.0
    # figure 3: returns at scale
    census_children: int = 100_000
    census_repeats: int = 3
    census_year: int = 2026
    # figure 9: the SSDA903 for looked-after children
    ssda903_children: int = 100_000
    ssda903_repeats: int = 3
    # figure 4: pack check
    check_repeats: int = 3
    # figure 5: the web app under load
    web_cases: int = 20_000
    web_clients: int = 50
    web_workers: int = 8  # gunicorn worker processes (see BENCHMARKS.md, figure 5)
    web_threads: int = 1  # threads in each (carepath serve's default)
    web_warmup_s: float = 5.0
    web_seconds: float = 60.0  # the paced phase (the figure)
    web_saturation_s: float = 20.0
    # figure 7: moving open cases to a new pack version, and to another pack
    migrate_cases: int = 10_000
    migrate_jobs: int = 2  # carepath migrate --jobs: processes moving cases (one a core here)
    # figure 8: carepath simulate (children per mode)
    simulate_children: int = 1000
    simulate_jobs: int = 2  # carepath simulate --jobs (one process a core here)
    # where PostgreSQL is (None: not configured)
    postgres_url: str | None = None
    only: set[str] = field(default_factory=set)

    @classmethod
    def full(cls) -> Settings:
        return cls(smoke=False)

    @classmethod
    def smoke_settings(cls) -> Settings:
        return cls(
            smoke=True,
            checkpoints=(8, 12),
            history_cases=2,
            history_rounds=1,
            real_history_up_to=10,
            throughput_cases=3,
            throughput_repeats=1,
            commit_sample_s=0.1,
            census_children=300,
            ssda903_children=300,
            ssda903_repeats=1,
            simulate_children=4,
            census_repeats=1,
            check_repeats=1,
            web_cases=200,
            web_clients=5,
            web_workers=2,
            web_warmup_s=0.5,
            web_seconds=3.0,
            web_saturation_s=1.0,
            migrate_cases=20,
        )

    def wants(self, figure: str) -> bool:
        return not self.only or figure in self.only


# --- statistics ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- databases -----------------------------------------------------------------------------------


def configured_postgres(explicit: str | None) -> tuple[str | None, str | None]:
    """The PostgreSQL URL to benchmark on and, if there is none usable, why not."""
    url = explicit or next((os.environ[e] for e in POSTGRES_ENVS if os.environ.get(e)), None)
    if not url:
        return None, ("no PostgreSQL configured: set CAREPATH_BENCH_POSTGRES_URL (or "
                      "CAREPATH_TEST_POSTGRES_URL) or pass --postgres URL")
    url = normalise_url(url.strip())
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means: not usable
        first = str(getattr(exc, "orig", exc)).strip().splitlines()
        return None, f"PostgreSQL not reachable: {first[0] if first else type(exc).__name__}"
    finally:
        engine.dispose()
    return url, None


def _with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    options = parsed.query.get("options")
    existing = (options if isinstance(options, str) else " ".join(options or ())).strip()
    parsed = parsed.update_query_dict({"options": f"{existing} -csearch_path={schema}".strip()})
    return parsed.render_as_string(hide_password=False)


@dataclass
class Database:
    kind: str  # "sqlite" | "postgresql"
    url: str
    engine: Engine


@contextmanager
def database(kind: str, workdir: Path, postgres_url: str | None, name: str) -> Iterator[Database]:
    """A fresh, migrated carepath database: a new SQLite file (WAL, synchronous=FULL, as
    carepath configures it) or a new schema in the PostgreSQL database (dropped afterwards)."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield Database(kind, url, engine)
        finally:
            dispose_engine(url)
        return
    if postgres_url is None:
        raise RuntimeError("PostgreSQL is not configured")
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _with_search_path(postgres_url, schema)
    try:
        engine = make_engine(url)
        upgrade(engine)
        yield Database(kind, url, engine)
    finally:
        dispose_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def durability(db: Database) -> dict[str, str]:
    """The settings that make a commit durable, as the database reports them."""
    with db.engine.connect() as conn:
        if db.kind == "sqlite":
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            level = conn.execute(text("PRAGMA synchronous")).scalar_one()
            return {"journal_mode": str(conn.execute(text("PRAGMA journal_mode")).scalar_one()),
                    "synchronous": sync.get(int(level), str(level))}
        return {name: str(conn.execute(text(f"SHOW {name}")).scalar_one())
                for name in ("synchronous_commit", "fsync", "wal_sync_method")}


# --- the machine ---------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))} ({platform.system()} " \
                       f"{platform.release()})"
    except OSError:
        pass
    return platform.platform()


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def machine(postgres_url: str | None, workdir: Path) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "os": _os_name(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": None,
        "sqlalchemy": _version("SQLAlchemy"),
        "spiffworkflow": _version("SpiffWorkflow"),
        "psycopg": _version("psycopg"),
        "bench_dir_filesystem": _filesystem(workdir),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if postgres_url:
        engine = create_engine(postgres_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                info["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
        except Exception as exc:  # reported, not fatal
            info["postgresql"] = f"unknown ({type(exc).__name__})"
        finally:
            engine.dispose()
    return info


def _filesystem(path: Path) -> str | None:
    try:
        best = ("", "")
        resolved = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount, fstype = parts[1], parts[2]
            if resolved.startswith(mount) and len(mount) > len(best[0]):
                best = (mount, fstype)
        return f"{best[1]} on {best[0]}" if best[0] else None
    except OSError:
        return None
