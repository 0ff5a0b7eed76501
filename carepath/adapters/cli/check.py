"""``carepath pack check PACK [--json]``: lint a pack and prove its statutory coverage.

PACK is an installed pack's name or a pack directory. Every path from the referral to every end
is walked (see ``carepath.engine.check``); each problem is printed with its severity, the DfE
rule, the record item, where it is in the pack and the path (the tasks in order, with the answers
that lead there).

Exit codes: 0 no errors (warnings are printed but do not fail); 1 at least one error, or a limit
(``--max-states``, ``--max-outcomes``) stopped the walk before every path was checked; 2 the pack
could not be loaded (its problems are printed) or another input a user can fix.
"""

from __future__ import annotations

import json
import os
import sys

import click
from rich.console import Console
from rich.markup import escape

from carepath.adapters.cli.errors import handle_errors
from carepath.engine.check import Limits
from carepath.engine.check.report import Finding, Report, rule_text, where_text
from carepath.engine.pack import PackErrors
from carepath.service.packs import PackService


def _packs() -> PackService:
    from carepath.adapters.app import pack_services

    return pack_services()


def _print_finding(out: Console, f: Finding) -> None:
    colour = "red" if f.severity == "error" else "yellow"
    tags = [t for t in (rule_text(f.rules), f.item and f"item {f.item}", where_text(f)) if t]
    out.print(f"[bold {colour}]{f.severity.upper()}[/] {escape(f.message)}")
    if tags:
        out.print(f"  [dim]{escape(' · '.join(tags))}[/]")
    if f.route:
        out.print("  path: " + escape(" → ".join(f.route)))


def _print_report(out: Console, report: Report) -> None:
    for f in report.findings:
        _print_finding(out, f)
        out.print()
    for note in report.notes:
        out.print(f"[yellow]{escape(note)}[/]")
    for line in report.incomplete:
        out.print(f"[bold red]{escape(line)}[/]")
    errors, warnings = len(report.errors), len(report.warnings)
    verdict = "[bold green]passes[/]" if report.ok else "[bold red]fails[/]"
    out.print(f"{escape(report.pack)} {verdict}: {errors} error{'s' * (errors != 1)}, {warnings} "
              f"warning{'s' * (warnings != 1)}; {report.paths:,} paths checked "
              f"({report.seconds:.2f} s)")


@click.command("check")
@click.argument("pack")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--max-states", type=click.IntRange(min=1), default=None,
              help="Stop the walk after this many states (default 200,000, or "
                   "CAREPATH_CHECK_MAX_STATES).")
@click.option("--max-outcomes", type=click.IntRange(min=1), default=None,
              help="The most ways one form may be completed (default 512, or "
                   "CAREPATH_CHECK_MAX_OUTCOMES).")
@handle_errors
def check(pack: str, as_json: bool, max_states: int | None, max_outcomes: int | None) -> None:
    """Check PACK (a name or a directory): lint it and prove, path by path, that it collects
    what the CIN census needs. Exit 1 if any error is found, or if a limit stopped the proof
    before every path was checked ("could not check everything")."""
    limits = Limits.from_env(os.environ, max_states, max_outcomes)
    out = Console(highlight=False, soft_wrap=True)
    try:
        packs = _packs()
        loaded = packs.get(pack)
    except PackErrors as exc:
        if as_json:
            click.echo(json.dumps({"pack": pack, "ok": False, "refused": [
                {"file": p.file, "line": p.line, "message": p.detail} for p in exc.problems]},
                indent=2))
        else:
            err = Console(stderr=True, highlight=False, soft_wrap=True)
            err.print(f"[bold red]The pack at {escape(exc.source)} was refused[/] "
                      f"({len(exc.problems)} problem{'s' * (len(exc.problems) != 1)}):")
            for problem in exc.problems:
                err.print(f"  {escape(str(problem))}")
        sys.exit(2)
    report = packs.check(loaded, limits)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(out, report)
    sys.exit(0 if report.ok else 1)
