"""The migrations are one transaction on SQLite too: stopped half way, they leave nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from carepath.adapters.db import database
from carepath.adapters.db.database import (
    current_revision,
    dispose_engine,
    head_revision,
    make_engine,
    upgrade,
)


class Stopped(Exception):
    pass


def test_a_migration_stopped_half_way_leaves_no_tables(db_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = database.command.upgrade

    def upgrade_then_fail(config: object, revision: str) -> None:
        real(config, revision)  # every table created...
        raise Stopped  # ...then the process dies before the commit

    engine = make_engine(db_url)
    monkeypatch.setattr(database.command, "upgrade", upgrade_then_fail)
    with pytest.raises(Stopped):
        upgrade(engine)
    monkeypatch.undo()
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    assert current_revision(engine) is None
    upgrade(engine)  # and init again sets it up
    assert current_revision(engine) == head_revision()
    dispose_engine(db_url)


def test_an_upgraded_sqlite_database_still_commits_normally(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    upgrade(engine)
    upgrade(engine)  # already at head: nothing to do, no error
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO cases (la_child_id, pack_name, pack_version, version, "
                             "event_seq, head_hash, created_at) VALUES ('A', 'p', '1', 0, 0, '', "
                             "'2025-01-01 00:00:00')")
    dispose_engine(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one() == 1
    dispose_engine(url)
