"""The files in examples/ work as the README shows: open a case on wt2023 with the example child
and referral, then answer its first tasks with the example answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from carepath.cli import main
from carepath.engine.time import clock

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)  # as a user would: in a folder of their own
    db = f"sqlite:///{tmp_path / 'carepath.db'}"
    runner = CliRunner()
    # two days after the example referral (`--today` sets the process's clock: put it back after)
    env = {"CAREPATH_USER": "sam", "CAREPATH_TODAY": "2025-09-03"}

    def invoke(*args: str) -> Result:
        result = runner.invoke(main, [*args, "--db", db], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    before = clock.current_clock()
    try:
        invoke("init")
        yield invoke
    finally:
        clock.set_default_clock(before)


def _ready(cli: Any) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = json.loads(cli("task", "list", "--json").stdout)
    return tasks


def _example(name: str) -> str:
    path = EXAMPLES / name
    assert path.is_file(), path
    return str(path)


def _open(cli: Any) -> None:
    cli("case", "open", "--pack", "wt2023", "--child", _example("child.yaml"),
        "--referral", _example("referral.yaml"), "--worker", "sam")


def test_the_example_case_through_its_first_tasks(cli: Any) -> None:
    _open(cli)
    [first] = _ready(cli)
    assert (first["form"], first["la_child_id"]) == ("referral_decision", "EX0001")
    cli("task", "complete", str(first["id"]), "--data",
        _example("answers/referral_decision.yaml"))
    [second] = _ready(cli)
    assert second["form"] == "assessment_start"
    cli("task", "complete", str(second["id"]), "--data",
        _example("answers/assessment_start.yaml"))
    [third] = _ready(cli)
    assert third["form"] == "assessment"
    assert (third["due"], third["overdue"]) == ("2025-11-03", False)  # 45 working days
    shown = json.loads(cli("case", "show", str(first["case_id"]), "--json").stdout)
    episode = shown["record"]["episodes"][0]
    assert episode["referral"]["source"] == "2A" and episode["primary_need"] == "N1"
    assert episode["assessments"][0]["start"] == "2025-09-02"


def test_the_no_further_action_answers_close_the_case(cli: Any) -> None:
    _open(cli)
    [first] = _ready(cli)
    cli("task", "complete", str(first["id"]), "--data",
        _example("answers/referral_decision_nfa.yaml"))
    assert _ready(cli) == []
    shown = json.loads(cli("case", "show", str(first["case_id"]), "--json").stdout)
    assert shown["record"]["episodes"][0]["closure"] == {"date": "2025-09-01", "reason": "RC7"}
