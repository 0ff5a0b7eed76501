"""``carepath migrate`` (move running cases to another pack version or pack, and undo), and
``carepath pack use`` / ``pack diff``."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape
from rich.table import Table

from carepath.adapters.cli.errors import handle_errors
from carepath.adapters.cli.options import actor, db_option, json_option, out, print_json
from carepath.core.errors import CarepathError
from carepath.service.migration import MigrationService
from carepath.service.migration_types import CaseReport, MigrationRun


def migration(db_url: str | None) -> MigrationService:
    from carepath.adapters.app import migration_service
    from carepath.adapters.db.database import make_engine, require_current, resolve_url

    engine = make_engine(resolve_url(db_url))
    require_current(engine)
    return migration_service(engine)


TABLE_ROWS = 100  # cases per table printed while a run goes on


def _table(cases: list[CaseReport]) -> Table:
    table = Table("Case", "From", "Strategy", "Status", "Open tasks before", "Open tasks after",
                  "Reason")
    for c in cases:
        before = "\n".join(f"{t.title} ({t.due or 'no date'})" for t in c.tasks_before)
        after = "\n".join(f"{t.title} ({t.due or 'no date'})" for t in c.tasks_after)
        table.add_row(str(c.case_id), c.from_, c.strategy, c.status, escape(before),
                      escape(after), escape(c.reason or ""))
    return table


def _print_run(run: MigrationRun) -> tuple[int, int]:
    """The report as tables of TABLE_ROWS cases, printed as the run goes (a run of thousands of
    cases is not held in memory); then the totals. Returns (moved, refused)."""
    moved = refused = 0
    page: list[CaseReport] = []
    if run.run_id:  # first, so that a run stopped half-way can still be undone by its id
        out.print(f"Run {run.run_id}: moving cases to {run.to}")
    for case in run.cases:
        moved += case.status in ("moved", "would_move")
        refused += case.status == "refused"
        page.append(case)
        if len(page) == TABLE_ROWS:
            out.print(_table(page))
            page = []
    if page or not moved + refused:
        out.print(_table(page))
    what = "would move" if run.dry_run else "moved"
    out.print(f"{moved} case(s) {what} to {run.to}, {refused} refused"
              + (f". Run id: {run.run_id} (undo: carepath migrate undo {run.run_id})"
                 if run.run_id else " (dry run: nothing was changed)"))
    return moved, refused


def _write_json(run: MigrationRun) -> tuple[int, int]:
    """The JSON report, written case by case as the run goes: the same document as
    ``MigrationReport.as_json``. Returns (moved, refused)."""
    moved = refused = 0
    head = {"run_id": run.run_id, "to": run.to, "dry_run": run.dry_run}
    echo = click.echo
    echo(json.dumps(head, indent=2)[:-2] + ',\n  "cases": [', nl=False)
    sys.stdout.flush()  # the run id out first, and each case as it is done: a run stopped
    for n, case in enumerate(run.cases):  # half-way says how far it got, and can be undone
        moved += case.status in ("moved", "would_move")
        refused += case.status == "refused"
        body = json.dumps(case.as_json(), indent=2, default=str).replace("\n", "\n    ")
        echo(("," if n else "") + "\n    " + body, nl=False)
        sys.stdout.flush()
    echo(("\n  " if moved + refused else "") + "],\n"
         + f'  "moved": {moved},\n  "refused": {refused}\n}}')
    return moved, refused


@click.group("migrate", invoke_without_command=True)
@click.option("--to", "to", metavar="PACK@VERSION", help="The pack version to move cases to.")
@click.option("--all", "all_cases", is_flag=True, help="Every case with running work.")
@click.option("--from", "from_pack", metavar="PACK[@VERSION]",
              help="The cases with work running on this pack (version).")
@click.option("--case", "case_ids", type=int, multiple=True, metavar="ID",
              help="This case (repeatable).")
@click.option("--dry-run", is_flag=True, help="Change nothing; report what would happen.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes moving cases at once (each case still in its own transaction); "
                   "about one a core.")
@json_option
@db_option
@click.pass_context
@handle_errors
def migrate(ctx: click.Context, to: str | None, all_cases: bool, from_pack: str | None,
            case_ids: tuple[int, ...], dry_run: bool, jobs: int, as_json: bool,
            db_url: str | None) -> None:
    """Move the running work of cases to another version of their pack, or to another pack.

    A new version of the same pack moves each running process in place (keeping its place);
    another pack rebuilds the case's work from its record, which stays as it is. Each case
    moves in its own transaction; the run can be undone with `migrate undo RUN_ID`."""
    if ctx.invoked_subcommand is not None:
        return
    if to is None:
        raise CarepathError("Say where to move cases to: --to PACK@VERSION")
    if jobs == 1:
        run = migration(db_url).migrate_stream(to, actor().name, all_cases=all_cases,
                                               from_pack=from_pack, case_ids=case_ids,
                                               dry_run=dry_run)
    else:
        run = _parallel(db_url, to, all_cases, from_pack, case_ids, dry_run, jobs)
    _, refused = _write_json(run) if as_json else _print_run(run)
    if refused:
        ctx.exit(1)


def _parallel(db_url: str | None, to: str, all_cases: bool, from_pack: str | None,
              case_ids: tuple[int, ...], dry_run: bool, jobs: int) -> MigrationRun:
    """The run begun here, its cases moved by ``jobs`` worker processes."""
    from carepath.adapters.db.database import resolve_url
    from carepath.adapters.db.scratch import sqlite_file
    from carepath.adapters.migrate_jobs import run_in_parallel

    url = resolve_url(db_url)
    if url.startswith("sqlite") and sqlite_file(url) is None:
        raise CarepathError("--jobs needs a database the worker processes can open: a SQLite "
                            "file or a server, not an in-memory database")
    spec = migration(db_url).begin_run(to, actor().name, all_cases=all_cases,
                                       from_pack=from_pack, case_ids=case_ids, dry_run=dry_run)
    return MigrationRun(spec.run_id, spec.to, spec.dry_run, run_in_parallel(url, spec, jobs))


@migrate.command("undo")
@click.argument("run_id")
@json_option
@db_option
@click.pass_context
@handle_errors
def migrate_undo(ctx: click.Context, run_id: str, as_json: bool, db_url: str | None) -> None:
    """Put every case of a migrate run back as it was (unless it changed since)."""
    results = migration(db_url).undo(run_id, actor().name)
    if as_json:
        print_json([{"case_id": r.case_id, "undone": r.undone, "reason": r.reason}
                    for r in results])
    else:
        for r in results:
            out.print(f"Case {r.case_id}: " + ("put back" if r.undone
                                               else f"not undone: {escape(r.reason or '')}"))
    if any(not r.undone and r.reason != "already undone" for r in results):
        ctx.exit(1)


@click.command("use")
@click.argument("key", metavar="NAME@VERSION")
@db_option
@handle_errors
def pack_use(key: str, db_url: str | None) -> None:
    """Pin the version new referrals of a pack use (NAME alone: the newest again)."""
    current = migration(db_url).use(key, actor().name)
    name = key.partition("@")[0]
    out.print(f"New referrals of {escape(name)} now use {escape(name)}@{escape(current)}.")


@click.command("diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@json_option
@click.pass_context
@handle_errors
def pack_diff_command(ctx: click.Context, old: str, new: str, as_json: bool) -> None:
    """What changed between two packs (NAME@VERSION, NAME or a directory): processes, tasks,
    forms, fields, record mappings, timescales; then `pack check` on NEW."""
    from carepath.adapters.app import pack_services
    from carepath.engine.check import check_pack
    from carepath.service.pack_diff import pack_diff

    service = pack_services()

    def load(text: str):  # type: ignore[no-untyped-def]
        name, _, version = text.partition("@")
        return service.packs.get_version(name, version) if version else service.get(text)

    before, after = load(old), load(new)
    lines = pack_diff(before, after)
    report = check_pack(after)
    if as_json:
        print_json({"old": before.key, "new": after.key,
                    "changes": [d.as_json() for d in lines],
                    "check": {"ok": report.ok, "errors": len(report.errors)}})
    else:
        table = Table("Part", "Change", "What", "Before", "After")
        for d in lines:
            table.add_row(d.part, d.change, escape(d.key), escape(d.before or ""),
                          escape(d.after or ""))
        out.print(table if lines else f"No differences between {before.key} and {after.key}.")
        out.print(f"pack check {after.key}: " + ("passes" if report.ok else
                                                 f"{len(report.errors)} error(s)"))
    if not report.ok:
        ctx.exit(1)
