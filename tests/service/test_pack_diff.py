"""``pack diff OLD NEW``: what changed between two versions of a pack (processes, tasks, forms,
fields, record mappings, timescales), then ``pack check`` on the new one; and ``migrate``
refusing a target that does not pass ``pack check`` (service and command line)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from carepath.adapters.app import migration_service, services_for
from carepath.adapters.packs import PACK_PATH_ENV, PackRegistry
from carepath.cli import main
from carepath.core.errors import CarepathError
from carepath.service.pack_diff import pack_diff
from carepath.service.types import Actor, TaskFilter

MOVES = Path(__file__).parents[1] / "packs" / "moves"
CHILD = {"la_child_id": "D1", "upn": "C201250001001", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _changed(tmp_path: Path) -> Path:
    """Version 2.0.0 of moves-test with one change of every kind pack diff lists."""
    new = tmp_path / "v2"
    shutil.copytree(MOVES / "v1", new)
    _edit(new / "pack.yaml", "version: 1.0.0", "version: 2.0.0")
    referral = new / "processes" / "referral.yaml"
    _edit(referral, "title: Referral", "title: Referral and first look")  # process
    _edit(referral, "title: Check the decision", "title: Check the decision again")  # task
    _edit(referral, "  - task: extra\n    title: An extra look\n    form: decide\n"
                    "    role: social_worker\n", "")  # a task removed
    _edit(referral, "  - task: close\n", "  - task: visit\n    title: Visit the child\n"
                    "    form: decide\n    role: social_worker\n    due: visit\n"
                    "  - task: close\n")  # a task added, due by a new timescale
    (new / "timescales.yaml").write_text(
        "closure_days: []\ntimescales:\n  visit:\n    title: Visit the child\n"
        "    working_days: 5\n    from: referral.date\n", encoding="utf-8")
    decide = new / "forms" / "decide.yaml"
    _edit(decide, "title: Decide what happens next with the referral",
          "title: Decide what happens next")  # form
    close = new / "forms" / "close.yaml"
    _edit(close, "label: Reason for closure,\n     required: true, record: closure.reason, "
          "example: RC7}", "label: Reason for closure,\n     required: true, "
          "record: closure.reason, example: RC7}\n"
          "  - {name: note, type: text, label: A note, required: false}\n"  # a field added
          "  - {name: need, type: choice, codelist: primary_need, label: Need at closure,\n"
          "     required: false, record: episode.primary_need}")  # ...and a record mapping
    return new


def test_pack_diff_lists_every_kind_of_change(tmp_path: Path) -> None:
    registry = PackRegistry([MOVES / "v1"])
    new_dir = _changed(tmp_path)
    registry.add_dir(new_dir)
    old, new = registry.get_version("moves-test", "1.0.0"), registry.get_version("moves-test",
                                                                                 "2.0.0")
    lines = {(d.part, d.change, d.key) for d in pack_diff(old, new)}
    assert lines == {
        ("processes", "changed", "referral"),
        ("tasks", "changed", "referral.check"),
        ("tasks", "removed", "referral.extra"),
        ("tasks", "added", "referral.visit"),
        ("forms", "changed", "decide"),
        ("fields", "added", "close.note"),
        ("fields", "added", "close.need"),
        ("record mappings", "added", "close.need"),
        ("timescales", "added", "visit"),
    }
    changed = {(d.part, d.key): d for d in pack_diff(old, new)}
    check = changed[("tasks", "referral.check")]
    assert "Check the decision again" not in (check.before or "")
    assert "Check the decision again" in (check.after or "")
    assert changed[("record mappings", "close.need")].after == "episode.primary_need"
    assert "working_days, 5" in (changed[("timescales", "visit")].after or "")
    assert pack_diff(old, old) == []
    # the other way round: added and removed swap
    back = {(d.part, d.change, d.key) for d in pack_diff(new, old)}
    assert ("tasks", "removed", "referral.visit") in back
    assert ("tasks", "added", "referral.extra") in back


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, env=env or {}, catch_exceptions=False)
    return result.exit_code, result.output


def test_pack_diff_on_the_command_line(tmp_path: Path) -> None:
    new_dir = _changed(tmp_path)
    env = {PACK_PATH_ENV: f"{MOVES / 'v1'}"}
    code, output = _cli(["pack", "diff", "moves-test@1.0.0", str(new_dir), "--json"], env)
    assert code == 0, output
    report = json.loads(output)
    assert (report["old"], report["new"]) == ("moves-test@1.0.0", "moves-test@2.0.0")
    assert report["check"] == {"ok": True, "errors": 0}
    assert {(c["part"], c["change"], c["key"]) for c in report["changes"]} >= {
        ("tasks", "added", "referral.visit"), ("timescales", "added", "visit")}
    code, output = _cli(["pack", "diff", "moves-test@1.0.0", str(new_dir)], env)
    assert code == 0, output
    assert "referral.visit" in output and "pack check moves-test@2.0.0: passes" in output
    code, output = _cli(["pack", "diff", "moves-test@1.0.0", "moves-test@1.0.0"], env)
    assert code == 0 and "No differences" in output


def _broken(tmp_path: Path) -> Path:
    """moves-test 1.9.0: loads, but a path leaves the case with no closure (pack check fails)."""
    broken = tmp_path / "broken"
    shutil.copytree(MOVES / "add", broken)
    text = (broken / "processes" / "referral.yaml").read_text()
    cut = text.index("  - task: close")
    (broken / "processes" / "referral.yaml").write_text(text[:cut] + "  - end: done\n"
                                                        "    title: Done\n")
    _edit(broken / "pack.yaml", "version: 1.2.0", "version: 1.9.0")
    return broken


def test_pack_diff_runs_pack_check_on_the_new_version(tmp_path: Path) -> None:
    broken = _broken(tmp_path)
    code, output = _cli(["pack", "diff", str(MOVES / "v1"), str(broken), "--json"])
    assert code == 1, output
    report = json.loads(output)
    assert report["check"]["ok"] is False and report["check"]["errors"] >= 1
    assert ("tasks", "removed", "referral.close") in {
        (c["part"], c["change"], c["key"]) for c in report["changes"]}
    code, output = _cli(["pack", "diff", str(MOVES / "v1"), str(broken)])
    assert code == 1 and "error(s)" in output


def test_migrate_refuses_a_target_that_fails_pack_check(db: Engine, db_url: str,
                                                        tmp_path: Path) -> None:
    broken = _broken(tmp_path)
    registry = PackRegistry([MOVES / "v1", broken])
    registry.pin("moves-test", "1.0.0")
    services = services_for(db, registry)
    case_id = services.cases.open_case("moves-test", CHILD, {"date": "2025-05-01",
                                                             "source": "2A"},
                                       Actor.operator("admin"), worker="sam").case_id
    before = [(t.id, t.bpmn_id) for t in services.cases.tasks(TaskFilter(case_id=case_id))]
    with pytest.raises(CarepathError, match="does not pass pack check"):
        migration_service(db, registry).migrate("moves-test@1.9.0", "admin", all_cases=True,
                                                dry_run=True)
    env = {PACK_PATH_ENV: f"{MOVES / 'v1'}:{broken}"}
    code, output = _cli(["migrate", "--to", "moves-test@1.9.0", "--all", "--db", db_url], env)
    assert code == 2, output
    assert "does not pass pack check" in output and "nothing was moved" in output
    assert "Traceback" not in output
    assert services.cases.head(case_id).pack == "moves-test@1.0.0"
    assert [(t.id, t.bpmn_id) for t in services.cases.tasks(TaskFilter(case_id=case_id))] \
        == before
    # nor was a run recorded
    from sqlalchemy import func, select

    from carepath.adapters.db import models as m

    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.MigrationRunRow)).scalar_one() \
            == 0
