"""docs/cli.md keeps up with the command line: every command (walking the click group
``carepath.cli.main``) has its row in the table, and each of its options is documented in that
row or in the prose above the table (options every command shares, like ``--db``)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from carepath.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        found.append((*path, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
    return found


COMMANDS = _commands(main)


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def _flags(command: click.Command) -> list[str]:
    """Every option's flags (``--db``, ``--json``...), but not ``--help``."""
    flags = []
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            flags += [f for f in (*param.opts, *param.secondary_opts) if f.startswith("--")]
    return [f for f in flags if f != "--help"]


def _rows(text: str, path: tuple[str, ...]) -> list[str]:
    """The table rows whose first cell is this command (not a longer one)."""
    words = " ".join(("carepath", *path))
    pattern = re.compile(r"^\|\s*`" + re.escape(words) + r"(?=[\s`])")
    return [line for line in text.splitlines() if pattern.match(line)]


def _prose(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("|"))


def test_the_walk_finds_the_commands() -> None:
    assert ("init",) in COMMANDS and ("pack", "list") in COMMANDS
    assert ("returns", "validate", "cin") in COMMANDS or ("returns", "validate") in COMMANDS


def test_help_of_the_group_and_the_global_options() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    prose = _prose(DOC.read_text(encoding="utf-8"))
    missing = [f for f in _flags(main) if f"`{f}" not in prose]
    assert not missing, f"docs/cli.md does not mention the global options {missing}"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_command_is_documented(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = _command(path)
    text = DOC.read_text(encoding="utf-8")
    words = " ".join(("carepath", *path))
    if isinstance(command, click.Group):
        # a group is documented by its subcommands' rows
        assert any(line.startswith(f"| `{words} ") for line in text.splitlines()), \
            f"docs/cli.md has no row for any `{words} ...` command"
        return
    rows = _rows(text, path)
    assert rows, f"docs/cli.md has no row for `{words}`"
    documented = "\n".join(rows) + "\n" + _prose(text)
    missing = [f for f in _flags(command) if not re.search(re.escape(f) + r"(?![\w-])",
                                                         documented)]
    assert not missing, f"docs/cli.md does not document {missing} of `{words}`"
