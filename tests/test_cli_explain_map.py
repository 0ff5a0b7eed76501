"""`carepath task show` explains the due date; `carepath case map` writes the SVG maps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from lxml import etree

from carepath.cli import main

CHILD = """la_child_id: C7001
upn: C201250001001
birth_date: 2015-06-01
sex: F
ethnicity: WBRI
disabilities: [NONE]
"""


@pytest.fixture
def cli(db_url: str) -> Any:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        env = {"CAREPATH_DATABASE_URL": db_url, "CAREPATH_USER": "tester",
               "CAREPATH_TODAY": "2025-12-12"}
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    assert invoke("init").exit_code == 0
    return invoke


def open_case(cli: Any, tmp_path: Path) -> tuple[int, int]:
    (tmp_path / "child.yaml").write_text(CHILD, encoding="utf-8")
    (tmp_path / "ref.yaml").write_text("date: 2025-12-12\nsource: '2A'\n", encoding="utf-8")
    result = cli("case", "open", "--pack", "wt2023", "--child", str(tmp_path / "child.yaml"),
                 "--referral", str(tmp_path / "ref.yaml"), "--json")
    assert result.exit_code == 0, result.output
    opened = json.loads(result.output)
    return int(opened["case_id"]), int(opened["open_tasks"][0]["id"])


def test_task_show_explains_the_due_date(cli: Any, tmp_path: Path) -> None:
    _, task_id = open_case(cli, tmp_path)
    shown = cli("task", "show", str(task_id))
    assert shown.exit_code == 0, shown.output
    assert "Why it is due then" in shown.output
    assert "1 working day from the referral date" in shown.output
    assert "Monday 15 December 2025" in shown.output
    data = json.loads(cli("task", "show", str(task_id), "--json").output)
    explanation = data["due_explanation"]
    assert explanation["timescale"] == "referral_decision"
    assert explanation["due"] == data["due"] == "2025-12-15"
    assert explanation["from_item"] == "referral.date"
    assert explanation["counted_from"] == "2025-12-12"
    assert [d["reason"] for d in explanation["skipped"]] == ["Saturday", "Sunday"]
    assert explanation["explained"] is True and explanation["text"]


def test_case_map_writes_one_svg_per_running_instance(cli: Any, tmp_path: Path) -> None:
    case_id, _ = open_case(cli, tmp_path)
    out = tmp_path / "maps"
    result = cli("case", "map", str(case_id), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    [written] = json.loads(result.output)
    assert written["process"] == "referral"
    assert written["current"] == ["Decide what happens next with the referral"]
    path = Path(written["file"])
    assert path.parent == out
    root = etree.fromstring(path.read_bytes())
    assert root.get("role") == "img"
    plain = cli("case", "map", str(case_id), "--out", str(out))
    assert plain.exit_code == 0 and "Referral and assessment" in plain.output


def test_case_map_of_an_unknown_case_fails(cli: Any, tmp_path: Path) -> None:
    result = cli("case", "map", "4242", "--out", str(tmp_path))
    assert result.exit_code != 0
    assert "4242" in result.output
    assert not list(tmp_path.glob("*.svg"))


def test_case_map_with_nothing_running_says_so(cli: Any, tmp_path: Path) -> None:
    case_id, task_id = open_case(cli, tmp_path)
    answers = tmp_path / "nfa.yaml"
    answers.write_text("nfa: true\ndecision_reasons: Advice was enough.\n"
                       "closure_date: 2025-12-12\nclosure_reason: RC7\n", encoding="utf-8")
    done = cli("task", "complete", str(task_id), "--data", str(answers))
    assert done.exit_code == 0, done.output
    out = tmp_path / "maps"
    result = cli("case", "map", str(case_id), "--out", str(out))
    assert result.exit_code == 2
    assert "no running process to draw" in result.output
    finished = cli("case", "map", str(case_id), "--out", str(out), "--all", "--json")
    assert finished.exit_code == 0, finished.output
    [drawn] = json.loads(finished.output)
    assert drawn["finished"] is True and drawn["current"] == []
