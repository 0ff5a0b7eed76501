"""``carepath demo``: the sample stories come from inside the package, and the hint it ends with
names a command the user can run as it is printed."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from carepath.adapters.cli.demo import carepath_command, sample_stories, story_files
from carepath.cli import main


def test_the_sample_stories_are_package_data() -> None:
    names = [f.name for f in story_files()]
    assert len(names) >= 10 and "nfa.yaml" in names
    assert sample_stories().joinpath("nfa.yaml").read_text(encoding="utf-8").startswith("#")


def test_demo_builds_the_caseload_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(main, ["demo", "--db", url])
    assert result.exit_code == 0, result.output
    assert "wt2023@1.0.0: nfa -> case" in result.output
    assert "ics2010@1.0.0: unborn -> case" in result.output
    assert f"task list --db {url}" in result.output
    again = CliRunner().invoke(main, ["demo", "--db", url])
    assert again.exit_code == 0 and "already in" in again.output


def _script(folder: Path) -> Path:
    folder.mkdir(parents=True)
    script = folder / "carepath"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_the_hint_names_the_program_as_the_user_can_run_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv_script = _script(tmp_path / "work" / ".venv" / "bin")
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setattr(sys, "argv", [".venv/bin/carepath", "demo"])
    monkeypatch.setenv("PATH", "/nonexistent")
    # run from the checkout without activating the environment: the relative path
    assert carepath_command() == ".venv/bin/carepath"
    # the environment is active: plain `carepath` finds the same program
    monkeypatch.setenv("PATH", str(venv_script.parent))
    assert carepath_command() == "carepath"
    # run by absolute path from elsewhere, with another carepath on PATH: the absolute path
    other = _script(tmp_path / "other bin")
    monkeypatch.setenv("PATH", str(other.parent))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "work" / ".venv" / "bin" / "carepath")])
    assert carepath_command() == shlex.quote(str(venv_script))
