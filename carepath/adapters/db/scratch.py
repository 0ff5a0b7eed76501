"""Databases nobody needs to keep (tests, benchmarks, throwaway simulations).

:func:`throwaway_engine` is SQLite that does not wait for the disk (``PRAGMA synchronous=OFF``);
:func:`memory_engine` is SQLite in memory. A crash can corrupt such a file: it is never what
carepath uses for real data (``database.make_engine``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from carepath.adapters.db.cases import SqlCaseRepository
from carepath.adapters.db.database import set_sqlite_pragmas, upgrade


def _fast_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    set_sqlite_pragmas(dbapi_connection, synchronous="OFF")


def throwaway_engine(path: str | Path) -> Engine:
    """A SQLite engine on the file ``path`` that does not wait for the disk: for throwaway
    databases only (a crash can lose or corrupt it). Not cached: dispose it when done."""
    engine = create_engine(f"sqlite:///{Path(path)}")
    event.listen(engine, "connect", _fast_sqlite)
    return engine


def memory_engine(connection: sqlite3.Connection | None = None) -> Engine:
    """An engine on one in-memory SQLite database (``connection``, or a new one)."""
    conn = connection or sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("PRAGMA foreign_keys=ON")
    return create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)


def sqlite_file(url: str) -> str | None:
    """The file of a ``sqlite:///FILE`` URL (None for other databases or memory)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            name = url[len(prefix):].split("?", 1)[0]
            return name if name and name != ":memory:" else None
    return None


class MemoryDatabases:
    """A migrated in-memory database, copied afresh for each use: the SQL twin of
    ``adapters.memory_cases.MemoryScratch`` (which ``pack test`` and ``migrate`` replays use),
    for the tests that hold the two to the same results. The in-memory databases are kept for
    reuse (the template copied over them each time): an engine kept keeps its compiled
    statements, which a new one per use would compile again."""

    def __init__(self) -> None:
        self.template = sqlite3.connect(":memory:", check_same_thread=False)
        self.engine = memory_engine(self.template)  # disposing it closes the template
        upgrade(self.engine)
        self._idle: list[tuple[sqlite3.Connection, Engine]] = []
        self._lock = threading.Lock()

    @contextmanager
    def fresh(self) -> Iterator[SqlCaseRepository]:
        with self._lock:
            idle = self._idle.pop() if self._idle else None
        if idle is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            idle = (conn, memory_engine(conn))
        conn, engine = idle
        self.template.backup(conn)  # replaces whatever the last use left
        try:
            yield SqlCaseRepository(engine)
        except BaseException:
            engine.dispose()
            conn.close()
            raise
        with self._lock:
            self._idle.append(idle)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, engine in idle:
            engine.dispose()
            conn.close()
        self.engine.dispose()
        self.template.close()
