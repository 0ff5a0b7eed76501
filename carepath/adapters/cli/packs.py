"""``carepath pack …``: the installed packs, what is in them, and exporting their BPMN."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from carepath.adapters.cli.errors import handle_errors
from carepath.adapters.cli.options import err, json_option, out, print_json
from carepath.service.packs import PackService


def _packs() -> PackService:
    from carepath.adapters.app import pack_services

    return pack_services()


@click.group()
def pack() -> None:
    """Process packs: list, show, check, test, export."""


@pack.command("list")
@json_option
@click.option("--db", "db_url", metavar="URL", envvar="CAREPATH_DATABASE_URL",
              help="Also count the running process instances of each version in this "
                   "database (env CAREPATH_DATABASE_URL).")
@handle_errors
def pack_list(as_json: bool, db_url: str | None) -> None:
    """Every installed pack version (the one new referrals use marked), with its running
    instances when a database is given; and any pack found but refused, with why."""
    packs = _packs()
    broken = packs.broken()
    if db_url:
        from carepath.adapters.cli.migrate import migration

        versions = migration(db_url).versions()
    else:
        from carepath.adapters.packs import PackRegistry
        from carepath.service.migration import MigrationService

        versions = MigrationService(None, PackRegistry()).versions()
    if as_json:
        print_json([v.as_json() for v in versions])
    else:
        table = Table("Name", "Version", "New referrals", "Running", "Title", "From")
        for v in versions:
            use = ("yes (pinned)" if v.pinned else "yes") if v.current else ""
            table.add_row(v.name, v.version, use, "" if v.running is None else str(v.running),
                          v.title, v.source)
        out.print(table)
    for b in broken:
        err.print(f"[bold yellow]Refused:[/] {escape(b.name)} ({escape(b.source)}): "
                  f"{escape(b.problem)}")


@pack.command("show")
@click.argument("name")
@json_option
@handle_errors
def pack_show(name: str, as_json: bool) -> None:
    """A pack's processes, tasks, forms and timescales (NAME or a directory)."""
    p = _packs().detail(name)
    if as_json:
        print_json(p.as_json())
        return
    out.print(f"[bold]{p.title}[/] ({p.key}) — {p.description}".strip(" —"))
    out.print(f"Starts with: {p.start}")
    for proc in p.processes:
        table = Table("Task", "Title", "Form", "Role", "Due", title=f"{proc.id}: "
                      f"{proc.title} ({proc.file})", title_justify="left")
        for t in proc.tasks:
            table.add_row(t.id, t.title, t.form or "", t.role or "", t.due or "")
        out.print(table)
    ts = Table("Timescale", "Title", title="Timescales", title_justify="left")
    for n, title in p.timescales.items():
        ts.add_row(n, title)
    out.print(ts)


@pack.command("export-bpmn")
@click.argument("name")
@click.argument("outdir", type=click.Path(file_okay=False))
@handle_errors
def pack_export_bpmn(name: str, outdir: str) -> None:
    """Write each process as BPMN 2.0 (opens in bpmn.io or Camunda Modeler)."""
    documents = _packs().bpmn_documents(name)
    target = Path(outdir)
    target.mkdir(parents=True, exist_ok=True)
    for pid, xml in documents:
        path = target / f"{pid}.bpmn"
        path.write_bytes(xml)
        out.print(f"Wrote {path}")
