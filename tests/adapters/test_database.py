from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from carepath.adapters.db import database
from carepath.adapters.db.database import (
    DEFAULT_URL,
    DatabaseNotReady,
    bump_version,
    current_revision,
    dispose_engine,
    head_revision,
    make_engine,
    require_current,
    resolve_url,
    session_scope,
    upgrade,
)
from carepath.adapters.db.models import CaseRow, EventRow
from carepath.core.errors import CarepathError, ConflictError

# --- URLs ----------------------------------------------------------------------------------------


def test_resolve_url_prefers_explicit_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CAREPATH_DATABASE_URL", raising=False)
    assert resolve_url(None) == DEFAULT_URL == "sqlite:///carepath.db"
    monkeypatch.setenv("CAREPATH_DATABASE_URL", "sqlite:///from-env.db")
    assert resolve_url(None) == "sqlite:///from-env.db"
    assert resolve_url("sqlite:///explicit.db") == "sqlite:///explicit.db"


def test_plain_postgresql_urls_mean_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_url("postgresql://u@h:5432/d") == "postgresql+psycopg://u@h:5432/d"
    assert resolve_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert resolve_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    monkeypatch.setenv("CAREPATH_DATABASE_URL", "postgresql://u@h/d")
    assert resolve_url(None) == "postgresql+psycopg://u@h/d"


# --- engines -------------------------------------------------------------------------------------


def test_engines_are_cached_per_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    try:
        assert make_engine(url) is make_engine(url)
        assert make_engine(url) is not make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    finally:
        dispose_engine(url)
        dispose_engine(f"sqlite:///{tmp_path / 'b.db'}")


def test_sqlite_connections_are_set_up_for_safety(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pragmas.db'}"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:

            def pragma(name: str) -> object:
                return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 5000
    finally:
        dispose_engine(url)


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(DatabaseNotReady, match="SQLite and PostgreSQL"):
        make_engine("mysql://u:secret@h/d")


def test_a_pooled_postgresql_connection_killed_while_idle_is_replaced(
        postgres_url: str, postgres_admin: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server restart (here: the backend terminated) leaves a dead connection in the pool; the
    next use after an idle spell tests it, drops it and connects afresh: no error reaches us."""
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)
    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}application_name=carepath-ping"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with postgres_admin.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            admin.commit()
        with engine.connect() as conn:
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        dispose_engine(url)


# --- migrations and readiness --------------------------------------------------------------------


def test_empty_database_is_not_set_up(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    with pytest.raises(DatabaseNotReady) as raised:
        require_current(engine)
    assert str(raised.value) == "The database is not set up: run `carepath init`"
    assert isinstance(raised.value, CarepathError)


def test_missing_sqlite_file_is_not_created_by_checking(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    url = f"sqlite:///{path}"
    try:
        with pytest.raises(DatabaseNotReady, match="not set up"):
            require_current(make_engine(url))
        assert not path.exists()
    finally:
        dispose_engine(url)


def test_upgrade_brings_database_to_head(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision() == "0007"
    require_current(engine)
    upgrade(engine)  # a second upgrade is a no-op
    require_current(engine)


def test_old_database_is_out_of_date(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    newer = f"{int(head_revision()) + 1:04d}"  # a migration this database has not had
    monkeypatch.setattr(database, "head_revision", lambda: newer)
    with pytest.raises(DatabaseNotReady) as raised:
        require_current(db)
    assert str(raised.value) == "The database is out of date: run `carepath db upgrade`"


def test_database_from_a_newer_carepath_is_refused(db: Engine) -> None:
    with db.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseNotReady, match=r"newer version of carepath \(revision 9999\)"):
        require_current(db)


def test_unreachable_server_is_reported_without_password() -> None:
    url = "postgresql+psycopg://carer:s3cret@127.0.0.1:1/nowhere?connect_timeout=2"
    try:
        with pytest.raises(DatabaseNotReady) as raised:
            require_current(make_engine(url))
    finally:
        dispose_engine(url)
    message = str(raised.value)
    assert message.startswith(
        "Could not connect to the database at postgresql+psycopg://carer:***@127.0.0.1:1/nowhere"
    )
    assert "s3cret" not in message
    assert "\n" not in message


def test_unopenable_sqlite_file_is_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"
    try:
        with pytest.raises(DatabaseNotReady, match="Could not connect to the database at sqlite"):
            upgrade(make_engine(url))
    finally:
        dispose_engine(url)


# --- sessions and the version lock ---------------------------------------------------------------


def _new_case(engine: Engine, la_child_id: str = "C1") -> int:
    with session_scope(engine) as session:
        case = CaseRow(la_child_id=la_child_id, pack_name="ics2010", pack_version="1")
        session.add(case)
        session.flush()
        return case.id


def test_session_scope_commits_or_rolls_back(db: Engine) -> None:
    case_id = _new_case(db)
    with pytest.raises(RuntimeError), session_scope(db) as session:
        session.execute(update(CaseRow).where(CaseRow.id == case_id).values(worker="Ann"))
        raise RuntimeError("boom")
    with session_scope(db) as session:
        case = session.get(CaseRow, case_id)
        assert case is not None and case.worker is None
        assert case.version == 0 and case.event_seq == 0 and case.head_hash == ""
        assert case.created_at.tzinfo is not None


def test_bump_version_increments_when_unchanged(db: Engine) -> None:
    case_id = _new_case(db)
    with session_scope(db) as session:
        case = session.get(CaseRow, case_id)
        assert case is not None
        bump_version(session, case_id, 0)
        assert case.version == 1  # the loaded object follows
    with session_scope(db) as session:
        assert session.scalar(select(CaseRow.version).where(CaseRow.id == case_id)) == 1
        with pytest.raises(ConflictError) as raised:
            bump_version(session, case_id, 0)
    assert str(raised.value) == (
        "This case changed since you opened it. Nothing was saved: "
        "open it again and redo your change."
    )


def test_bump_version_on_missing_case_is_a_conflict(db: Engine) -> None:
    with pytest.raises(ConflictError), session_scope(db) as session:
        bump_version(session, 12345, 0)


def test_two_connections_racing_one_loses_and_writes_nothing(db: Engine) -> None:
    """Both read version 0; the first commits; the second's whole transaction is refused."""
    case_id = _new_case(db)
    first = Session(db)
    second = Session(db)
    try:
        assert first.connection() is not second.connection()
        seen_first = first.scalar(select(CaseRow.version).where(CaseRow.id == case_id))
        seen_second = second.scalar(select(CaseRow.version).where(CaseRow.id == case_id))
        assert seen_first == seen_second == 0

        first.execute(update(CaseRow).where(CaseRow.id == case_id).values(worker="first"))
        bump_version(first, case_id, 0)
        first.commit()

        # The loser writes first (the record, an event...), then bumps: all of it must go.
        second.execute(update(CaseRow).where(CaseRow.id == case_id).values(team="second"))
        second.add(
            EventRow(
                case_id=case_id,
                seq=1,
                at=datetime.now(UTC),
                actor="second",
                kind="x",
                payload="{}",
                prev_hash="",
                hash="0" * 64,
            )
        )
        second.flush()
        with pytest.raises(ConflictError):
            bump_version(second, case_id, 0)
        second.rollback()
    finally:
        first.close()
        second.close()

    with session_scope(db) as session:
        case = session.get(CaseRow, case_id)
        assert case is not None
        assert (case.version, case.worker, case.team) == (1, "first", None)
        assert session.scalars(select(EventRow)).all() == []


def test_bumping_first_makes_a_concurrent_writer_wait_then_lose(db: Engine) -> None:
    """Bumping before any other write holds the case: the second writer blocks on it, and once
    the first commits it gets ConflictError before it has written anything (no unique-key
    errors from both appending event N+1)."""
    case_id = _new_case(db)
    first = Session(db)
    outcome: list[BaseException | None] = []
    first_committed = threading.Event()
    try:
        bump_version(first, case_id, 0)  # the first writer holds the case, uncommitted

        def second_writer() -> None:
            try:
                with session_scope(db) as second:
                    bump_version(second, case_id, 0)
                    second.add(
                        EventRow(
                            case_id=case_id,
                            seq=1,
                            at=datetime.now(UTC),
                            actor="second",
                            kind="k",
                            payload="{}",
                            prev_hash="",
                            hash="0" * 64,
                        )
                    )
                outcome.append(None)
            except BaseException as exc:  # handed to the test thread
                outcome.append(exc)
            assert first_committed.is_set(), "the second writer did not wait for the first"

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the second writer should be waiting for the first"
        first.add(
            EventRow(
                case_id=case_id,
                seq=1,
                at=datetime.now(UTC),
                actor="first",
                kind="k",
                payload="{}",
                prev_hash="",
                hash="1" * 64,
            )
        )
        first.flush()
        first_committed.set()
        first.commit()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        first.close()
    assert len(outcome) == 1 and isinstance(outcome[0], ConflictError), outcome
    with session_scope(db) as session:
        assert [e.actor for e in session.scalars(select(EventRow))] == ["first"]
        assert session.scalar(select(CaseRow.version).where(CaseRow.id == case_id)) == 1
