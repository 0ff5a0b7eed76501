"""Simulated caseloads: 500 children per built-in pack (some of them looked after), each record
equal to its story, and a CIN census of them that the DfE rules accept without an ERROR."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carepath.adapters.cli.simulate import show_progress, simulate_command
from carepath.adapters.db.bulk_cases import SqlCaseBatches
from carepath.adapters.db.database import dispose_engine, make_engine, upgrade
from carepath.adapters.db.scratch import memory_engine, sqlite_file, throwaway_engine
from carepath.adapters.packs import PackRegistry
from carepath.core.errors import CarepathError
from carepath.engine.record.case_record import record_to_story
from carepath.engine.simulation.generator import generate_stories
from carepath.service.simulation import SimulateError, SimulationSummary, simulate
from tests.casework import Casework as CaseStore

PACKS = ["ics2010", "wt2023"]
CHILDREN = 500  # issue 3: at least 500 simulated children per pack
YEAR = 2026


@dataclass
class Simulated:
    pack: str
    engine: Engine
    store: CaseStore
    summary: SimulationSummary
    stories: list[dict[str, Any]]


@pytest.fixture(scope="module", params=PACKS)
def simulated(request: pytest.FixtureRequest) -> Iterator[Simulated]:
    engine = memory_engine()
    upgrade(engine)
    store = CaseStore(engine, PackRegistry())
    pack = store.packs.get(request.param)
    seed = 2026 + PACKS.index(request.param)
    summary = simulate(store.service, pack, CHILDREN, seed, YEAR, looked_after=True,
                       batches=SqlCaseBatches(engine, store.service.cases.upn_holders))
    stories = list(generate_stories(CHILDREN, seed, YEAR, calendar=pack.timescales.calendar,
                                    looked_after=True))
    assert sum("looked_after" in s for s in stories) > CHILDREN / 20
    yield Simulated(request.param, engine, store, summary, stories)
    engine.dispose()


def test_every_simulated_record_equals_its_story(simulated: Simulated) -> None:
    summary = simulated.summary
    assert summary.children == summary.cases == CHILDREN
    assert summary.tasks > 3 * CHILDREN
    assert len(summary.case_ids) == CHILDREN
    different = []
    for story, case_id in zip(simulated.stories, summary.case_ids, strict=True):
        record = record_to_story(simulated.store.record(case_id))
        if record != story:
            different.append(story["child"]["la_child_id"])
    assert different == []


def test_the_simulated_cin_census_has_no_dfe_errors(simulated: Simulated,
                                                    tmp_path: Path) -> None:
    pytest.importorskip("cin_validator", reason="the DfE rules extra is not installed")
    from carepath.adapters.db.record_stream import iter_cases
    from carepath.returns.cin_census import write_cin_census
    from carepath.returns.validate_cin import validate_cin

    out = tmp_path / f"cin_{simulated.pack}.xml"
    with Session(simulated.engine) as session, out.open("wb") as f:
        census = write_cin_census(iter_cases(session), YEAR, "201", f)
    assert census.children > 0.7 * CHILDREN
    assert census.missing == []
    report = validate_cin(out, YEAR)
    assert report.schema_errors == []
    assert report.crashed_rules == []
    assert [(i.rule, i.child, i.message) for i in report.errors] == []


def test_the_runner_keeps_the_record_in_step_with_the_database(db: Engine) -> None:
    """Each completion is written from the record the runner keeps in memory: after every task
    it must equal the database's (SQLite and PostgreSQL)."""
    store = CaseStore(db, PackRegistry())
    for seed, pack in enumerate(PACKS):
        summary = simulate(store.service, store.packs.get(pack), 30, seed, YEAR, check_record=True)
        assert summary.cases == 30


def test_progress_is_reported_for_each_child() -> None:
    engine = memory_engine()
    upgrade(engine)
    store = CaseStore(engine, PackRegistry())
    seen: list[tuple[int, int]] = []
    simulate(store.service, store.packs.get("wt2023"), 5, 1, progress=lambda d, t, r: seen.append((d, t)))
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    engine.dispose()


def test_a_seed_cannot_be_simulated_twice_into_one_database() -> None:
    engine = memory_engine()
    upgrade(engine)
    store = CaseStore(engine, PackRegistry())
    simulate(store.service, store.packs.get("wt2023"), 2, 9)
    with pytest.raises(SimulateError, match="already in this database"):
        simulate(store.service, store.packs.get("wt2023"), 2, 9)
    engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    upgrade(make_engine(url))
    yield url
    dispose_engine(url)


@pytest.mark.parametrize("no_sync", [False, True])
def test_simulate_command_prints_a_json_summary(sqlite_db: str, no_sync: bool) -> None:
    args = ["--pack", "wt2023", "--children", "12", "--seed", "5", "--db", sqlite_db, "--json"]
    result = CliRunner().invoke(simulate_command, args + (["--no-sync"] if no_sync else []))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)  # nothing else on stdout: no progress bar
    assert set(data) == {"children", "cases", "tasks", "seconds"}
    assert data["children"] == data["cases"] == 12
    store = CaseStore(make_engine(sqlite_db), PackRegistry())
    assert len(store.case_ids()) == 12


def test_simulate_command_text_output(sqlite_db: str) -> None:
    result = CliRunner().invoke(simulate_command, ["--pack", "ics2010", "--children", "3",
                                                   "--db", sqlite_db])
    assert result.exit_code == 0, result.output
    assert "Recorded 3 simulated children on ics2010@" in result.output


def test_simulate_command_user_errors(sqlite_db: str, tmp_path: Path) -> None:
    runner = CliRunner()

    def error(*args: str) -> str:
        result = runner.invoke(simulate_command, list(args))
        assert result.exit_code == 2, result.output
        assert not isinstance(result.exception, CarepathError)  # no traceback
        assert result.output.startswith("Error: "), result.output
        return result.output

    assert "--no-sync is only for a SQLite database file" in error(
        "--pack", "wt2023", "--children", "1", "--db", "postgresql://u@localhost/x",
        "--no-sync")
    assert "No pack called 'nope'" in error("--pack", "nope", "--children", "1", "--db",
                                            sqlite_db)
    assert "carepath init" in error("--pack", "wt2023", "--children", "1", "--db",
                                    f"sqlite:///{tmp_path / 'missing.db'}")
    assert "1990 is not a collection year" in error("--pack", "wt2023", "--children", "1",
                                                    "--year", "1990", "--db", sqlite_db)
    assert "--jobs must be 1 or more" in error("--pack", "wt2023", "--children", "1",
                                                "--jobs", "0", "--db", sqlite_db)
    assert "not an in-memory database" in error("--pack", "wt2023", "--children", "1",
                                                "--jobs", "2", "--db", "sqlite://")
    result = runner.invoke(simulate_command, ["--pack", "wt2023", "--children", "-1"])
    assert result.exit_code == 2  # click's own usage error


def test_simulate_command_with_jobs_records_every_child_once(sqlite_db: str) -> None:
    """--jobs 2: two processes share the seed's children, their batches written in turn."""
    from carepath.adapters.db.audit import SqlAuditLog
    from carepath.service.audit import AuditService

    args = ["--pack", "wt2023", "--children", "9", "--seed", "6", "--db", sqlite_db, "--json",
            "--jobs", "2"]
    result = CliRunner().invoke(simulate_command, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["children"] == data["cases"] == 9 and data["tasks"] > 27
    engine = make_engine(sqlite_db)
    store = CaseStore(engine, PackRegistry())
    assert len(store.case_ids()) == 9
    expected = sorted(s["child"]["la_child_id"] for s in generate_stories(9, 6, YEAR))
    with Session(engine) as session:
        from sqlalchemy import select

        from carepath.adapters.db import models as m
        assert sorted(session.scalars(select(m.CaseRow.la_child_id))) == expected
    assert AuditService(SqlAuditLog(engine)).verify().problems == []
    again = CliRunner().invoke(simulate_command, args)
    assert again.exit_code == 2 and "already in this database" in again.output


def test_progress_bars_only_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", Tty())
    assert show_progress(as_json=False)
    assert not show_progress(as_json=True)
    monkeypatch.undo()
    assert not show_progress(as_json=False)  # pytest captures stdout: not a terminal


def test_throwaway_engine_does_not_wait_for_the_disk(tmp_path: Path) -> None:
    engine = throwaway_engine(tmp_path / "t.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 0
    engine.dispose()
    assert sqlite_file("sqlite:///x/y.db") == "x/y.db"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql+psycopg://u@h/d") is None
