"""Click commands: ``carepath simulate`` and ``carepath pack test``.

``carepath.cli`` registers them (``main.add_command(simulate_command)``,
``pack.add_command(pack_test_command)``). Errors a user can fix (a ``CarepathError``, a database
error) come out as one ``Error:`` line on stderr with exit code 2, never a traceback; a failed
scenario exits 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from carepath.adapters.cli.errors import handle_errors
from carepath.core.errors import CarepathError

__all__ = ["simulate_command", "pack_test_command"]

F = TypeVar("F", bound=Callable[..., Any])




def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def show_progress(as_json: bool) -> bool:
    """Progress bars only for a person at a terminal: never with --json or when stdout is
    redirected."""
    return not as_json and sys.stdout.isatty()


@contextmanager
def _progress(enabled: bool, what: str, total: int) -> Iterator[Any]:
    """A callback ``(done, total, result)`` that moves a rich progress bar (or does nothing)."""
    if not enabled or total == 0:
        yield lambda done, total, result: None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=_console(),
                   transient=True)
    with bar:
        task = bar.add_task(what, total=total)
        yield lambda done, total, result: bar.update(task, completed=done)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.command("simulate")
@click.option("--pack", "pack_name", required=True, metavar="PACK",
              help="Pack name or directory.")
@click.option("--children", type=click.IntRange(min=0), required=True,
              help="How many children to simulate.")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True,
              help="Random seed: the same seed gives the same children (LA child IDs "
                   "S{seed}N0, S{seed}N1, ...).")
@click.option("--year", type=int, default=2026, show_default=True,
              help="Collection year ending 31 March YEAR: stories run up to that day.")
@click.option("--db", "db_url", metavar="URL", envvar="CAREPATH_DATABASE_URL",
              help="Database URL (default: sqlite:///carepath.db in this directory; "
                   "env CAREPATH_DATABASE_URL).")
@click.option("--no-sync", is_flag=True,
              help="SQLite only, for throwaway databases: do not wait for the disk "
                   "(PRAGMA synchronous=OFF). A crash can corrupt the file.")
@click.option("--looked-after/--no-looked-after", default=True, show_default=True,
              help="About one child in eight is a looked-after child with a career in care "
                   "(docs/simulation.md); without it, children in need only.")
@click.option("--jobs", type=int, default=1, show_default=True,
              help="Worker processes recording the children (one a core); a SQLite file or "
                   "a server database.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def simulate_command(pack_name: str, children: int, seed: int, year: int, db_url: str | None,
                     no_sync: bool, looked_after: bool, jobs: int, as_json: bool) -> None:
    """Record realistic simulated children on a pack (demo caseloads, benchmarks)."""
    from carepath.adapters.app import case_service
    from carepath.adapters.db.bulk_cases import SqlCaseBatches
    from carepath.adapters.db.database import make_engine, mask_url, require_current, resolve_url
    from carepath.adapters.db.scratch import sqlite_file, throwaway_engine
    from carepath.adapters.simulate_jobs import simulate_in_parallel
    from carepath.service.simulation import simulate

    url = resolve_url(db_url)
    if jobs < 1:
        raise CarepathError(f"--jobs must be 1 or more (not {jobs})")
    if jobs > 1 and url.startswith("sqlite") and sqlite_file(url) is None:
        raise CarepathError("--jobs needs a database the worker processes can open: a SQLite "
                            "file or a server, not an in-memory database")
    if no_sync:
        path = sqlite_file(url)
        if path is None:
            raise CarepathError("--no-sync is only for a SQLite database file "
                                f"(not {mask_url(url)})")
        engine = throwaway_engine(path)
    else:
        engine = make_engine(url)
    try:
        require_current(engine)
        service = case_service(engine)
        pack = service.packs.get(pack_name)
        with _progress(show_progress(as_json), f"Simulating on {pack.key}", children) as tick:
            if jobs > 1:
                summary = simulate_in_parallel(url, no_sync, pack_name, children, seed, year,
                                               looked_after, jobs, service, progress=tick)
            else:
                summary = simulate(service, pack, children, seed, year, progress=tick,
                                   looked_after=looked_after,
                                   batches=SqlCaseBatches(engine, service.cases.upn_holders))
    finally:
        if no_sync:
            engine.dispose()
    if as_json:
        _echo_json(summary.as_json())
        return
    _console().print(
        f"Recorded {summary.children} simulated children on {pack.key} in {mask_url(url)}: "
        f"{summary.cases} cases, {summary.tasks} tasks completed, {summary.seconds:.1f} s "
        f"({summary.ms_per_child:.0f} ms a child).")


@click.command("test")
@click.argument("pack_name", metavar="PACK")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def pack_test_command(pack_name: str, as_json: bool) -> None:
    """Run a pack's scenarios (PACK/scenarios/*.yaml) and report flow coverage; exit 1 if a
    scenario fails."""
    from carepath.adapters.app import pack_services
    from carepath.adapters.memory_cases import MemoryScratch
    from carepath.service.pack_test import scenario_files

    packs = pack_services()
    pack = packs.get(pack_name)
    total = len(scenario_files(pack))
    databases = MemoryScratch()
    try:
        with _progress(show_progress(as_json), f"Scenarios of {pack.key}", total) as tick:
            report = packs.test(pack_name, databases, progress=tick)
    finally:
        databases.close()
    if as_json:
        _echo_json(report.as_json())
    else:
        _print_report(report)
    if not report.passed:
        sys.exit(1)


def _print_report(report: Any) -> None:
    out = _console()
    table = Table("Scenario", "Title", "Result", "Tasks", "Left open",
                  title=f"Scenarios of {report.pack}", title_justify="left")
    for s in report.scenarios:
        verdict = "[green]pass[/]" if s.passed else "[bold red]FAIL[/]"
        table.add_row(s.name, s.title if s.title != s.name else "", verdict, str(s.completed),
                      ", ".join(s.stopped_at))
    out.print(table)
    for s in report.scenarios:
        if s.problems:
            out.print(f"[bold red]{s.name}[/]:")
            for problem in s.problems:
                out.print(f"  {problem}", markup=False)
    cov = report.coverage
    data = cov.as_json()
    out.print(f"Flow coverage: {data['flows']['taken']}/{data['flows']['total']} sequence flows "
              f"({cov.flow_percent}%), {data['tasks']['completed']}/{data['tasks']['total']} "
              f"user tasks completed ({cov.task_percent}%).")
    if data["flows"]["never_taken"]:
        out.print("Sequence flows never taken:")
        for f in data["flows"]["never_taken"]:
            out.print(f"  {f['process']}: {f['flow']} ({f['between']})", markup=False)
    if data["tasks"]["never_completed"]:
        out.print("User tasks never completed:")
        for t in data["tasks"]["never_completed"]:
            out.print(f"  {t['process']}: {t['task']} ({t['title']})", markup=False)
    failed = report.failed
    if failed:
        out.print(f"[bold red]{failed} of {len(report.scenarios)} scenarios failed.[/]")
    else:
        out.print(f"All {len(report.scenarios)} scenarios passed.")
