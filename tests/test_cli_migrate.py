"""``carepath migrate`` on the command line: the report as tables and as JSON (written case by
case as the run goes), the run id first, and undo."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine

from carepath.adapters.app import services_for
from carepath.adapters.packs import PACK_PATH_ENV, PackRegistry
from carepath.cli import main
from carepath.service.types import Actor, TaskFilter

MOVES = Path(__file__).parent / "packs" / "moves"
ENV = {PACK_PATH_ENV: f"{MOVES / 'v1'}:{MOVES / 'remove_mapped'}", "CAREPATH_USER": "admin"}


def _cases(db: Engine, count: int) -> list[int]:
    registry = PackRegistry([MOVES / "v1", MOVES / "remove_mapped"])
    registry.pin("moves-test", "1.0.0")
    services = services_for(db, registry)
    ids = []
    for n in range(count):
        child = {"la_child_id": f"L{n}", "upn_unknown": "UN5", "birth_date": "2015-06-01",
                 "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]}
        ids.append(services.cases.open_case("moves-test", child, {"date": "2025-05-01",
                                                                   "source": "2A"},
                                            Actor.operator("admin"), worker="sam").case_id)
    return ids


def _run(args: list[str], db_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--db", db_url], env=ENV, catch_exceptions=False)
    return result.exit_code, result.output


def test_migrate_reports_as_it_goes_and_undoes(db: Engine, db_url: str) -> None:
    ids = _cases(db, 3)
    code, output = _run(["migrate", "--to", "moves-test@1.4.0", "--all", "--dry-run"], db_url)
    assert code == 0, output
    assert output.count("would_move") == 3
    assert "3 case(s) would move to moves-test@1.4.0, 0 refused (dry run" in output

    code, output = _run(["migrate", "--to", "moves-test@1.4.0", "--all", "--dry-run",
                         "--json"], db_url)
    assert code == 0, output
    report = json.loads(output)
    assert (report["run_id"], report["dry_run"], report["moved"], report["refused"]) == (
        None, True, 3, 0)
    assert [c["case_id"] for c in report["cases"]] == ids
    assert {c["status"] for c in report["cases"]} == {"would_move"}

    code, output = _run(["migrate", "--to", "moves-test@1.4.0", "--from", "moves-test",
                         "--json"], db_url)
    assert code == 0, output
    report = json.loads(output)
    assert report["moved"] == 3 and report["run_id"]
    assert set(report) == {"run_id", "to", "dry_run", "cases", "moved", "refused"}
    assert set(report["cases"][0]) == {"case_id", "from", "strategy", "status", "reason",
                                       "tasks_before", "tasks_after", "unrecorded"}
    # nothing left to move: an empty report, still JSON
    code, output = _run(["migrate", "--to", "moves-test@1.4.0", "--from", "moves-test@1.0.0",
                         "--json"], db_url)
    assert code == 0 and json.loads(output)["cases"] == []

    code, output = _run(["migrate", "undo", report["run_id"]], db_url)
    assert code == 0, output
    assert output.count("put back") == 3
    services = services_for(db, PackRegistry([MOVES / "v1", MOVES / "remove_mapped"]))
    assert {services.cases.head(i).pack for i in ids} == {"moves-test@1.0.0"}

    code, output = _run(["migrate", "--to", "moves-test@1.4.0", "--case", str(ids[0])], db_url)
    assert code == 0, output
    run_line = output.splitlines()[0]
    assert run_line.startswith("Run ") and "moving cases to moves-test@1.4.0" in run_line
    assert "1 case(s) moved to moves-test@1.4.0, 0 refused. Run id:" in output
    assert [t.bpmn_id for t in services.cases.tasks(TaskFilter(case_id=ids[1]))] == ["decide"]


def test_migrate_says_what_is_wrong_without_a_traceback(db: Engine, db_url: str) -> None:
    code, output = _run(["migrate", "--to", "moves-test", "--all"], db_url)
    assert code == 2 and "names no version" in output and "Traceback" not in output
    code, output = _run(["migrate", "--to", "moves-test@1.4.0"], db_url)
    assert code == 2 and "Say which cases to move" in output
    code, output = _run(["migrate", "--to", "moves-test@9.9.9", "--all"], db_url)
    assert code == 2 and "No pack moves-test@9.9.9 is installed" in output
    code, output = _run(["migrate", "undo", "nope"], db_url)
    assert code == 2 and "no migration run 'nope'" in output


def test_migrate_with_jobs_moves_every_case_once_and_undoes(db: Engine, db_url: str) -> None:
    """--jobs 2: two processes share the run (case id modulo 2); every case is reported once,
    the run is one run, and undo puts every case back whichever process moved it."""
    ids = _cases(db, 7)
    code, output = _run(["migrate", "--to", "moves-test@1.4.0", "--all", "--dry-run",
                         "--jobs", "2", "--json"], db_url)
    assert code == 0, output
    report = json.loads(output)
    assert sorted(c["case_id"] for c in report["cases"]) == ids
    assert {c["status"] for c in report["cases"]} == {"would_move"} and report["run_id"] is None

    code, output = _run(["migrate", "--to", "moves-test@1.4.0", "--from", "moves-test",
                         "--jobs", "2", "--json"], db_url)
    assert code == 0, output
    report = json.loads(output)
    assert report["moved"] == 7 and report["refused"] == 0 and report["run_id"]
    assert sorted(c["case_id"] for c in report["cases"]) == ids
    services = services_for(db, PackRegistry([MOVES / "v1", MOVES / "remove_mapped"]))
    assert {services.cases.head(i).pack for i in ids} == {"moves-test@1.4.0"}

    code, output = _run(["migrate", "undo", report["run_id"]], db_url)
    assert code == 0, output
    assert output.count("put back") == 7
    assert {services.cases.head(i).pack for i in ids} == {"moves-test@1.0.0"}


def test_migrate_jobs_need_a_database_other_processes_can_open() -> None:
    result = CliRunner().invoke(main, ["migrate", "--to", "moves-test@1.4.0", "--all",
                                       "--jobs", "2", "--db", "sqlite:///:memory:"], env=ENV)
    assert result.exit_code == 2
    assert "not an in-memory database" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["migrate", "--to", "moves-test@1.4.0", "--all",
                                       "--jobs", "0"], env=ENV)
    assert result.exit_code == 2 and "Traceback" not in result.output
