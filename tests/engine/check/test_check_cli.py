"""`carepath pack check PACK [--json]`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from carepath.adapters.cli.check import check

from .broken import VARIANTS, apply, copy_pack, edit


def test_shipped_pack_passes() -> None:
    result = CliRunner().invoke(check, ["wt2023"])
    assert result.exit_code == 0, result.output
    assert "wt2023@1.0.0 passes: 0 errors" in result.output
    assert "paths checked" in result.output


def test_json_output() -> None:
    result = CliRunner().invoke(check, ["ics2010", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True and data["errors"] == 0 and data["paths"] > 1000
    assert all(f["severity"] == "warning" for f in data["findings"])


def test_broken_pack_directory_fails_with_rule_item_and_path(tmp_path: Path) -> None:
    variant = next(v for v in VARIANTS if v.name == "closure without the date")
    root = apply(tmp_path, variant)
    result = CliRunner().invoke(check, [str(root)])
    assert result.exit_code == 1, result.output
    assert "ERROR 'Close the case' records the reason for closure without the date" in result.output
    assert "DfE rule 8810 · item closure.date · processes/referral.yaml:" in result.output
    assert "Start the child and family assessment → Complete the child and family assessment" \
        in result.output
    data = json.loads(CliRunner().invoke(check, [str(root), "--json"]).output)
    assert data["ok"] is False
    assert any(f["rules"] == ["8810"] and f["path"][-1] == "Close the case"
               for f in data["findings"])


def test_refused_pack_prints_its_problems_and_exits_2(tmp_path: Path) -> None:
    root = copy_pack(tmp_path)
    edit(root, "forms/close_case.yaml", "  - name: closure_date\n    type: date\n",
         "  - name: closure_date\n    type: when\n")
    result = CliRunner().invoke(check, [str(root)])
    assert result.exit_code == 2
    assert "was refused" in result.output and "forms/close_case.yaml:" in result.output
    data = json.loads(CliRunner().invoke(check, [str(root), "--json"]).output)
    assert data["ok"] is False and data["refused"][0]["file"] == "forms/close_case.yaml"


def test_unknown_pack_is_a_user_error() -> None:
    result = CliRunner().invoke(check, ["no-such-pack"])
    assert result.exit_code == 2
    assert "no-such-pack" in result.output
    assert "Traceback" not in result.output


def test_missing_pack_directory_is_a_user_error() -> None:
    result = CliRunner().invoke(check, ["/nonexistent"])
    assert result.exit_code == 2, result.output
    assert "unexpected problem" not in result.output
