"""The fault suites' shared parts: seeds, a PostgreSQL schema of their own, and the figures.

Every suite draws its random choices from a seed it prints (``CAREPATH_FAULT_SEED=N`` replays a
run). The figures (operations, processes, trials, inputs, failures, seeds, seconds) are printed
at the end of the test run; with ``CAREPATH_FAULT_RESULTS=FILE`` they are also written to FILE
as JSON (``make faults`` writes ``bench/fault_results.json``).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from carepath.adapters.db.database import dispose_engine

FIGURES: dict[str, dict[str, Any]] = {}
SEED_ENV = "CAREPATH_FAULT_SEED"
RESULTS_ENV = "CAREPATH_FAULT_RESULTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


def suite_seed(name: str) -> int:
    """The seed of one suite: ``$CAREPATH_FAULT_SEED`` or a fresh one, printed either way."""
    given = os.environ.get(SEED_ENV, "").strip()
    seed = int(given) if given else random.SystemRandom().randrange(1, 2**31)
    print(f"\n[faults] {name}: seed {seed} (replay with {SEED_ENV}={seed})")
    return seed


def record_figures(suite: str, **figures: Any) -> None:
    FIGURES.setdefault(suite, {}).update(figures)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault suites")
    for suite, figures in sorted(FIGURES.items()):
        shown = ", ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, dict))
        terminalreporter.write_line(f"{suite}: {shown}")
    target = os.environ.get(RESULTS_ENV, "").strip()
    if target:
        path = Path(target)
        old: dict[str, Any] = {}
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                old = {}
        suites = old.get("fault_suites", {})
        suites.update(FIGURES)
        path.write_text(json.dumps({"fault_suites": suites}, indent=2, sort_keys=True) + "\n",
                        encoding="utf-8")
        terminalreporter.write_line(f"fault figures written to {path}")


def with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    options = parsed.query.get("options")
    existing = (options if isinstance(options, str) else " ".join(options or ())).strip()
    parsed = parsed.update_query_dict(
        {"options": f"{existing} -csearch_path={schema}".strip()})
    return parsed.render_as_string(hide_password=False)


@pytest.fixture
def pg_url(postgres_admin: Engine, postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (dropped afterwards); skipped without a server."""
    schema = f"f_{uuid.uuid4().hex[:16]}"
    with postgres_admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = with_search_path(postgres_url, schema)
    try:
        yield url
    finally:
        dispose_engine(url)
        with postgres_admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
