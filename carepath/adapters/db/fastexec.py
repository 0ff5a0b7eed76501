"""Running a Core statement on the hot path with nothing but the driver's own cost.

``Connection.execute`` of a cached Core statement still costs ~45 µs of Python per statement here
(cache key, execution context, result set-up), against ~2 µs for the driver's cursor; a
completion runs about ten. :class:`FastStatement` compiles its statement once per (dialect,
parameter names) with SQLAlchemy's own compiler and type processors (so values are converted
exactly as ``Connection.execute`` converts them, e.g. ``UTCDateTime``), then executes the SQL on
the DB-API cursor of the connection, inside the connection's transaction.

When anything listens to the engine's cursor events (statement logging, tests that count
statements), it runs through ``Connection.execute`` instead, so that they see it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Executable

__all__ = ["FastStatement"]


@dataclass(frozen=True)
class _Plan:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order (qmark), or None (named)
    compiled: Any
    processors: Mapping[str, Callable[[Any], Any]]
    results: tuple[Callable[[Any], Any] | None, ...]


def _uses_events(conn: Connection) -> bool:
    dispatch = conn.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


class FastStatement:
    """A Core statement (SELECT, INSERT, UPDATE; no expanding IN) run on the driver's cursor."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
        key = (dialect.name, keys)
        plan = self._plans.get(key)
        if plan is None:
            compiled: Any = self.statement.compile(dialect=dialect, column_keys=list(keys))
            processors = {}
            for name, bind in compiled.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors[name] = process
            returned: Any = getattr(self.statement, "exported_columns", ())
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in returned
            )
            positional = tuple(compiled.positiontup) if compiled.positional else None
            plan = _Plan(compiled.string, positional, compiled, processors, results)
            self._plans[key] = plan
        return plan

    def _params(self, plan: _Plan, params: Mapping[str, Any]) -> Any:
        values = plan.compiled.construct_params(params)
        for name, process in plan.processors.items():
            values[name] = process(values[name])
        if plan.positional is not None:
            return tuple(values[name] for name in plan.positional)
        return values

    def run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[int, list[tuple[Any, ...]]]:
        """Execute with ``params``: (rows affected, rows returned, converted)."""
        if _uses_events(conn):
            result: Any = conn.execute(cast(Executable, self.statement), dict(params))
            rows = [tuple(r) for r in result.all()] if result.returns_rows else []
            return result.rowcount, rows
        plan = self._plan(conn.dialect, tuple(sorted(params)))
        if not conn.in_transaction():
            conn.begin()  # so that the connection's commit and rollback cover this statement
        cursor = conn.connection.cursor()
        try:
            cursor.execute(plan.sql, self._params(plan, params))
            rows = []
            if cursor.description is not None:
                for raw in cursor.fetchall():
                    rows.append(tuple(raw[i] if process is None else process(raw[i])
                                      for i, process in enumerate(plan.results)))
            return cursor.rowcount, rows
        finally:
            cursor.close()

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        return self.run(conn, params)[0]

    def one_or_none(self, conn: Connection, params: Mapping[str, Any]
                    ) -> tuple[Any, ...] | None:
        rows = self.run(conn, params)[1]
        if len(rows) > 1:
            raise ValueError("more than one row")
        return rows[0] if rows else None

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.one_or_none(conn, params)
        if row is None:
            raise ValueError("no row")
        return row[0]
