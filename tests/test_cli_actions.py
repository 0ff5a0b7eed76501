"""``carepath case actions`` and ``carepath case act``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.test_cli import cli, open_case, write  # noqa: F401  (cli is a fixture)


def decided(cli: Any, tmp_path: Path, case_id: int, next_step: str) -> None:  # noqa: F811
    """Complete the referral decision: the actions wait for the primary need (rule 8610)."""
    assert [a["name"] for a in json.loads(
        cli("case", "actions", str(case_id), "--json").output)] == ["change_worker"]
    task = json.loads(cli("task", "list", "--json").output)[0]
    data = write(tmp_path, "decision.yaml", "nfa: false\ndecision_reasons: Needs assessing.\n"
                 f"primary_need: N1\nnext_step: {next_step}\n")
    result = cli("task", "complete", str(task["id"]), "--data", data)
    assert result.exit_code == 0, result.output


def test_list_and_take_an_action(cli: Any, tmp_path: Path) -> None:  # noqa: F811
    case_id = open_case(cli, tmp_path)
    decided(cli, tmp_path, case_id, "assessment")
    result = cli("case", "actions", str(case_id), "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {"name": "start_section47", "title": "Hold a strategy discussion",
            "role": "social_worker"} in listed
    assert "start_section47" in cli("case", "actions", str(case_id)).output

    result = cli("case", "act", str(case_id), "start_section47", "--json")
    assert result.exit_code == 0, result.output
    taken = json.loads(result.output)
    assert taken["completed"] is None and taken["action"] == "start_section47"
    assert [t["title"] for t in taken["opened"]] == ["Record the strategy discussion"]

    again = cli("case", "act", str(case_id), "start_section47")
    assert again.exit_code == 2
    assert "is not available on this case now" in again.output
    unknown = cli("case", "act", str(case_id), "fly")
    assert unknown.exit_code == 2 and "no action 'fly'" in unknown.output


def test_an_action_with_answers_for_its_first_task(cli: Any, tmp_path: Path) -> None:  # noqa: F811
    case_id = open_case(cli, tmp_path, "ics2010")
    decided(cli, tmp_path, case_id, "initial_assessment")
    data = write(tmp_path, "close.yaml", "closure_date: 2025-05-01\nclosure_reason: RC7\n"
                 "closing_summary: Advice was enough.\n")
    result = cli("case", "act", str(case_id), "close_case", "--data", data)
    assert result.exit_code == 0, result.output
    assert "Close the case: done" in result.output
    assert json.loads(cli("case", "actions", str(case_id), "--json").output) == []
