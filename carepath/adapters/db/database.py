"""Engines, sessions, migrations and the case version lock.

SQLite (default ``carepath.db`` in the working directory, WAL, ``synchronous=FULL``, foreign keys
on) or PostgreSQL (psycopg 3). The schema is created and changed only by the Alembic migrations
shipped in ``migrations/``; :func:`upgrade` runs them without an ``alembic.ini``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError
from sqlalchemy.orm import Session

from carepath.core.errors import CarepathError, ConflictError

from .models import CaseRow

DEFAULT_URL = "sqlite:///carepath.db"
ENV_VAR = "CAREPATH_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

CONFLICT_MESSAGE = (
    "This case changed since you opened it. Nothing was saved: open it again and redo your change."
)
NOT_SET_UP_MESSAGE = "The database is not set up: run `carepath init`"
OUT_OF_DATE_MESSAGE = "The database is out of date: run `carepath db upgrade`"


class DatabaseNotReady(CarepathError):
    """The database cannot be used: unreachable, not set up, or on another schema revision."""


# --- URLs ----------------------------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (``postgresql+psycopg://``)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def resolve_url(explicit: str | None) -> str:
    """The database URL to use: ``explicit`` (``--db``), else ``$CAREPATH_DATABASE_URL``, else
    ``sqlite:///carepath.db`` (relative to the working directory)."""
    url = explicit or os.environ.get(ENV_VAR) or DEFAULT_URL
    return normalise_url(url.strip())


def mask_url(url: str | Engine) -> str:
    """The URL as a string with any password replaced by ``***``."""
    if isinstance(url, Engine):
        return url.url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


# --- engines -------------------------------------------------------------------------------------

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def set_sqlite_pragmas(dbapi_connection: Any, synchronous: str = "FULL") -> None:
    """carepath's settings on a new SQLite connection: wait for a busy lock, WAL, foreign keys
    enforced, and ``synchronous`` (FULL: durable at commit; OFF only for throwaway files)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={'OFF' if synchronous == 'OFF' else 'FULL'}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    set_sqlite_pragmas(dbapi_connection)


# A pooled PostgreSQL connection is tested before use (a server restart or a proxy's idle
# timeout leaves dead ones in the pool) only when it has not been used for this long. Pinging on
# every checkout (``pool_pre_ping``) cost a page a dozen extra round trips.
PING_AFTER_IDLE_S = 5.0


def _mark_checkin(dbapi_connection: Any, connection_record: Any) -> None:
    connection_record.info["carepath_idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, connection_record: Any,
                  connection_proxy: Any) -> None:
    since = connection_record.info.get("carepath_idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as exc:  # any failure: the pool drops it and connects afresh
        raise DisconnectionError("the pooled connection is no longer usable") from exc


def make_engine(url: str) -> Engine:
    """The engine for ``url`` (normalised), created once per process and then reused."""
    url = normalise_url(url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            _engines[url] = engine
        return engine


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseNotReady(f"This is not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if backend == "postgresql":
        engine = create_engine(url)
        event.listen(engine.pool, "checkin", _mark_checkin)
        event.listen(engine.pool, "checkout", _ping_if_idle)
        return engine
    raise DatabaseNotReady(
        f"carepath supports SQLite and PostgreSQL databases, not {backend!r} ({mask_url(url)})"
    )


def dispose_engine(url: str) -> None:
    """Close the pooled connections of the cached engine for ``url`` and forget it."""
    with _engines_lock:
        engine = _engines.pop(normalise_url(url), None)
    if engine is not None:
        engine.dispose()


def dispose_all_engines() -> None:
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


# --- sessions ------------------------------------------------------------------------------------


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception (which is re-raised).

    Objects stay usable after the block (``expire_on_commit=False``).
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def bump_version(session: Session, case_id: int, seen: int) -> None:
    """``UPDATE cases SET version = version + 1 WHERE id = :id AND version = :seen``.

    Raises :class:`ConflictError` if no row matched: the case changed since it was read at
    version ``seen``. The caller's transaction must then be rolled back (``session_scope`` does).

    Call it before writing anything else for the case in the transaction (it flushes pending ORM
    changes first): the row it updates then stays locked until commit, so a concurrent writer of
    the same case waits here and gets ConflictError, instead of failing later on a unique key
    (both appending event N+1, both adding episode N) with an IntegrityError.
    """
    result = cast(
        CursorResult[Any],
        session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id, CaseRow.version == seen)
            .values(version=CaseRow.version + 1)
            .execution_options(synchronize_session="evaluate")
        ),
    )
    if result.rowcount != 1:
        raise ConflictError(CONFLICT_MESSAGE)


# --- migrations ----------------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged migrations (no ``alembic.ini`` needed).

    With ``connection``, the migration environment runs on it (``config.attributes``).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest migration this version of carepath ships."""
    head = _script().get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise DatabaseNotReady("carepath ships no database migrations (broken install?)")
    return head


def _short_reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


@contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise DatabaseNotReady(
            f"Could not connect to the database at {mask_url(engine)}: {_short_reason(exc)}"
        ) from exc
    with connection:
        yield connection


def upgrade(engine: Engine) -> None:
    """Run the packaged migrations up to head, in one transaction.

    On SQLite a migration that changes a constraint copies the table and drops the old one;
    with foreign keys enforced that drop fails (or cascades) once other rows point at it. So
    foreign keys are off while the migrations run, every key is checked before the commit, and
    they are on again afterwards (SQLite's own procedure for altering tables)."""
    with _connect(engine) as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver: Any = None
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no effect in a transaction
            connection.commit()
            # Python's sqlite3 opens a transaction before INSERT/UPDATE/DELETE only: each
            # CREATE/ALTER/DROP would commit on its own, and a migration stopped half way (a
            # crash, kill -9) would leave tables but no revision, which no upgrade can finish.
            # So the driver is told to open none, and the transaction is begun here explicitly.
            driver = connection.connection.driver_connection
            legacy = driver.isolation_level
            driver.isolation_level = None
        try:
            with connection.begin():
                if sqlite:
                    connection.exec_driver_sql("BEGIN")
                command.upgrade(alembic_config(connection), "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise DatabaseNotReady(
                            f"The migration would leave {len(broken)} row(s) pointing at rows "
                            "that do not exist; nothing was changed")
        finally:
            if sqlite:
                driver.isolation_level = legacy
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if carepath never set it up."""
    if _sqlite_file_missing(engine):
        return None
    with _connect(engine) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _sqlite_file_missing(engine: Engine) -> bool:
    """A SQLite file that does not exist yet (connecting would create an empty one)."""
    if engine.url.get_backend_name() != "sqlite":
        return False
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return not Path(database).exists()


def require_current(engine: Engine) -> None:
    """Raise :class:`DatabaseNotReady` unless the database is reachable and at head."""
    current = current_revision(engine)
    if current is None:
        raise DatabaseNotReady(NOT_SET_UP_MESSAGE)
    if current == head_revision():
        return
    try:
        known = _script().get_revision(current) is not None
    except Exception:  # alembic raises several kinds for unknown revisions
        known = False
    if known:
        raise DatabaseNotReady(OUT_OF_DATE_MESSAGE)
    raise DatabaseNotReady(
        f"The database was set up by a newer version of carepath (revision {current}): "
        "upgrade carepath to use it"
    )
