"""Shared fixtures: databases.

``db_url`` runs a test on SQLite (a fresh file) and on PostgreSQL (a fresh schema in the database
named by ``CAREPATH_TEST_POSTGRES_URL``, dropped afterwards); ``db`` is an engine on it with the
migrations applied. Without ``CAREPATH_TEST_POSTGRES_URL`` (or if the server cannot be reached)
the PostgreSQL cases are skipped with the reason shown in the summary.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from carepath.adapters.db.database import (
    dispose_engine,
    make_engine,
    mask_url,
    normalise_url,
    upgrade,
)

POSTGRES_ENV = "CAREPATH_TEST_POSTGRES_URL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs a PostgreSQL server (CAREPATH_TEST_POSTGRES_URL)"
    )


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server for tests (``$CAREPATH_TEST_POSTGRES_URL``), or skip."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(
            f"PostgreSQL tests skipped: set {POSTGRES_ENV}="
            "postgresql+psycopg://user@host:5432/db to run them"
        )
    url = normalise_url(url)
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc)
        pytest.skip(f"PostgreSQL tests skipped: could not connect to {mask_url(url)}: {reason}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_admin(postgres_url: str) -> Iterator[Engine]:
    """A connection-per-use engine for creating and dropping test schemas."""
    engine = create_engine(postgres_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def _with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    options = parsed.query.get("options")
    existing = (options if isinstance(options, str) else " ".join(options or ())).strip()
    setting = f"-csearch_path={schema}"
    parsed = parsed.update_query_dict({"options": f"{existing} {setting}".strip()})
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'carepath.db'}"
        yield url
        dispose_engine(url)
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _with_search_path(request.getfixturevalue("postgres_url"), schema)
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` with the migrations applied."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    dispose_engine(db_url)


@pytest.fixture(autouse=True)
def _default_clock_restored() -> Iterator[None]:
    """A CLI test's ``--today`` sets the process-wide clock, as it does for a real command:
    put it back after every test so no other test runs on that date."""
    from carepath.engine.time import clock

    before = clock._default_clock
    yield
    clock.set_default_clock(before)
