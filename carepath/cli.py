"""The carepath command line: a thin shell over the library.

Every command parses its arguments, calls the library and prints with rich (or JSON with
``--json``). Errors a user can fix come out as one clear line and exit code 2; nothing prints a
traceback.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from carepath import __version__
from carepath.adapters.cli.errors import UserError, handle_errors

F = TypeVar("F", bound=Callable[..., Any])
LONDON = ZoneInfo("Europe/London")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)




# -- shared options ------------------------------------------------------------------------

def db_option(fn: F) -> F:
    """``--db URL`` on every command that touches the database."""
    return click.option("--db", "db_url", metavar="URL", envvar="CAREPATH_DATABASE_URL",
                        help="Database URL (default: sqlite:///carepath.db in this directory; "
                             "env CAREPATH_DATABASE_URL).")(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"'{text}' is not a date: write it as YYYY-MM-DD, like 2025-05-01") \
            from None


def _read_yaml(path: str, what: str) -> Any:
    from carepath.core.yamlsource import load_yaml

    file = Path(path)
    if not file.is_file():
        raise UserError(f"{what} file not found: {path}")
    try:
        return load_yaml(file.read_text(encoding="utf-8"), str(file))
    except UnicodeDecodeError:
        raise UserError(f"{what} file is not UTF-8 text: {path}") from None


def _actor() -> str:
    return os.environ.get("CAREPATH_USER") or getpass.getuser() or "unknown"


def _store(db_url: str | None) -> Any:
    from carepath.adapters.db.database import make_engine, require_current, resolve_url
    from carepath.adapters.db.store import CaseStore
    from carepath.adapters.packs import PackRegistry

    engine = make_engine(resolve_url(db_url))
    require_current(engine)
    return CaseStore(engine, PackRegistry())


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))




@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="carepath")
@click.option("--today", metavar="DATE", envvar="CAREPATH_TODAY",
              help="Pretend today is DATE (YYYY-MM-DD): for training, demos and replaying "
                   "past work (env CAREPATH_TODAY).")
def main(today: str | None) -> None:
    """carepath: council process packs over one canonical children's case record."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("spiff").setLevel(logging.WARNING)
    if today:
        from carepath.engine.time.clock import FixedClock, set_default_clock

        day = _parse_day(today)
        set_default_clock(FixedClock(datetime.combine(day, time(12, 0), LONDON)
                                     .astimezone(UTC)))


# -- database ------------------------------------------------------------------------------

@main.command()
@db_option
@handle_errors
def init(db_url: str | None) -> None:
    """Create the database (or bring it up to date)."""
    from carepath.adapters.db.database import make_engine, resolve_url, upgrade

    url = resolve_url(db_url)
    upgrade(make_engine(url))
    out.print(f"Database ready: {_mask(url)}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@db_option
@handle_errors
def db_upgrade(db_url: str | None) -> None:
    """Apply the schema migrations shipped with this version of carepath."""
    from carepath.adapters.db.database import current_revision, make_engine, resolve_url, upgrade

    engine = make_engine(resolve_url(db_url))
    upgrade(engine)
    out.print(f"Database schema at revision {current_revision(engine)}")


def _mask(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- packs ---------------------------------------------------------------------------------

@main.group()
def pack() -> None:
    """Process packs: list, show, check, test, export."""


def _registry() -> Any:
    from carepath.adapters.packs import PackRegistry

    return PackRegistry()


@pack.command("list")
@json_option
@handle_errors
def pack_list(as_json: bool) -> None:
    """The installed packs."""
    registry = _registry()
    rows = []
    for name in registry.names():
        p = registry.get(name)
        rows.append({"name": p.name, "version": p.version, "title": p.title,
                     "source": registry.origin(name), "processes": sorted(p.bpmn)})
    if as_json:
        _print_json(rows)
        return
    table = Table("Name", "Version", "Title", "From", "Processes")
    for r in rows:
        table.add_row(r["name"], r["version"], r["title"], r["source"], ", ".join(r["processes"]))
    out.print(table)


@pack.command("show")
@click.argument("name")
@json_option
@handle_errors
def pack_show(name: str, as_json: bool) -> None:
    """A pack's processes, tasks, forms and timescales (NAME or a directory)."""
    p = _registry().get(name)
    processes = []
    for pid in sorted(p.bpmn):
        specs = p.specs(pid)
        processes.append({"id": pid, "title": specs.title, "file": p.bpmn[pid][0], "tasks": [
            {"id": t.bpmn_id, "title": t.title, "form": t.form, "role": t.role, "due": t.due}
            for t in specs.tasks.values()]})
    data = {"name": p.name, "version": p.version, "title": p.title,
            "description": p.description, "licence": p.licence, "start": p.start,
            "roles": {r.id: r.title for r in p.roles.values()},
            "processes": processes, "forms": sorted(p.forms),
            "timescales": {n: t.title for n, t in p.timescales.items.items()}}
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]{p.title}[/] ({p.key}) — {p.description}".strip(" —"))
    out.print(f"Starts with: {p.start}")
    for proc in processes:
        table = Table("Task", "Title", "Form", "Role", "Due", title=f"{proc['id']}: "
                      f"{proc['title']} ({proc['file']})", title_justify="left")
        for t in proc["tasks"]:
            table.add_row(t["id"], t["title"], t["form"] or "", t["role"] or "", t["due"] or "")
        out.print(table)
    ts = Table("Timescale", "Title", title="Timescales", title_justify="left")
    for n, title in data["timescales"].items():
        ts.add_row(n, title)
    out.print(ts)


@pack.command("export-bpmn")
@click.argument("name")
@click.argument("outdir", type=click.Path(file_okay=False))
@handle_errors
def pack_export_bpmn(name: str, outdir: str) -> None:
    """Write each process as BPMN 2.0 (opens in bpmn.io or Camunda Modeler)."""
    p = _registry().get(name)
    target = Path(outdir)
    target.mkdir(parents=True, exist_ok=True)
    for pid, (_, xml) in sorted(p.bpmn.items()):
        path = target / f"{pid}.bpmn"
        path.write_bytes(xml)
        out.print(f"Wrote {path}")


# -- cases ---------------------------------------------------------------------------------

@main.group()
def case() -> None:
    """Children's cases."""


@case.command("open")
@click.option("--pack", "pack_name", required=True, help="Pack name or directory.")
@click.option("--child", "child_file", required=True, metavar="CHILD.yaml")
@click.option("--referral", "referral_file", required=True, metavar="REFERRAL.yaml")
@click.option("--worker", help="Allocated social worker.")
@click.option("--team", help="Team.")
@db_option
@json_option
@handle_errors
def case_open(pack_name: str, child_file: str, referral_file: str, worker: str | None,
              team: str | None, db_url: str | None, as_json: bool) -> None:
    """Record a referral. A child already known (same LA child ID) gets a new episode."""
    child = _read_yaml(child_file, "Child")
    referral = _read_yaml(referral_file, "Referral")
    if not isinstance(child, dict) or not isinstance(referral, dict):
        raise UserError("The child and referral files must each hold a mapping of answers")
    store = _store(db_url)
    case_id = store.open_case(pack_name, child, referral, _actor(), worker=worker, team=team)
    tasks = store.tasks(case_id=case_id)
    if as_json:
        _print_json({"case_id": case_id, "open_tasks": [t.as_json() for t in tasks]})
        return
    out.print(f"Case {case_id} open.")
    _task_table(tasks)


@case.command("list")
@db_option
@json_option
@handle_errors
def case_list(db_url: str | None, as_json: bool) -> None:
    """Every case, with its open tasks."""
    rows = _store(db_url).list_cases()
    if as_json:
        _print_json(rows)
        return
    table = Table("Case", "LA child ID", "Pack", "Worker", "Team", "Open tasks")
    for r in rows:
        table.add_row(str(r["case_id"]), r["la_child_id"], r["pack"], r["worker"] or "",
                      r["team"] or "", str(r["open_tasks"]))
    out.print(table)


@case.command("show")
@click.argument("case_id", type=int)
@db_option
@json_option
@handle_errors
def case_show(case_id: int, db_url: str | None, as_json: bool) -> None:
    """A case: its record, open tasks and history."""
    detail = _store(db_url).case_detail(case_id)
    if as_json:
        _print_json(detail)
        return
    from carepath.adapters.cli.terminal import print_case

    print_case(out, detail)


# -- tasks ---------------------------------------------------------------------------------

@main.group()
def task() -> None:
    """Tasks: list, show, complete."""


def _task_table(tasks: list[Any]) -> None:
    if not tasks:
        out.print("No open tasks.")
        return
    table = Table("Task", "Case", "Title", "Role", "Assignee", "Due")
    for t in tasks:
        due = t.due.isoformat() if t.due else ""
        if t.overdue:
            due = f"[bold red]{due} OVERDUE[/]"
        table.add_row(str(t.id), str(t.case_id), t.title, t.role or "", t.assignee or "", due)
    out.print(table)


@task.command("list")
@click.option("--case", "case_id", type=int, help="Only this case's tasks.")
@click.option("--overdue", is_flag=True, help="Only tasks past their due date.")
@click.option("--assignee", help="Only tasks assigned to this person.")
@db_option
@json_option
@handle_errors
def task_list(case_id: int | None, overdue: bool, assignee: str | None, db_url: str | None,
              as_json: bool) -> None:
    """Ready tasks, soonest due first."""
    tasks = _store(db_url).tasks(case_id=case_id, overdue=overdue, assignee=assignee)
    if as_json:
        _print_json([t.as_json() for t in tasks])
        return
    _task_table(tasks)


@task.command("show")
@click.argument("task_id", type=int)
@db_option
@json_option
@handle_errors
def task_show(task_id: int, db_url: str | None, as_json: bool) -> None:
    """A task and the questions its form asks."""
    store = _store(db_url)
    view = store.task(task_id)
    form = store.task_pack(task_id).form(view.form) if view.form else None
    from carepath.adapters.cli.terminal import form_json, print_form

    if as_json:
        _print_json({**view.as_json(), "form_fields": form_json(form) if form else []})
        return
    _task_table([view])
    if form is not None:
        print_form(out, form)


@task.command("complete")
@click.argument("task_id", type=int)
@click.option("--data", "data_file", required=True, metavar="VALUES.yaml",
              help="The answers, as a YAML mapping of field name to value.")
@db_option
@json_option
@handle_errors
def task_complete(task_id: int, data_file: str, db_url: str | None, as_json: bool) -> None:
    """Complete a task with answers from a file."""
    values = _read_yaml(data_file, "Answers")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise UserError("The answers file must hold a mapping of field name to value")
    opened = _store(db_url).complete_task(task_id, values, _actor())
    _after_complete(task_id, opened, as_json)


def _after_complete(task_id: int, opened: list[Any], as_json: bool) -> None:
    if as_json:
        _print_json({"completed": task_id, "opened": [t.as_json() for t in opened]})
        return
    out.print(f"Task {task_id} completed.")
    if opened:
        out.print("Now ready:")
        _task_table(opened)


@task.command("do")
@click.argument("task_id", type=int)
@db_option
@handle_errors
def task_do(task_id: int, db_url: str | None) -> None:
    """Complete a task by answering its form's questions one by one."""
    from carepath.adapters.cli.terminal import ask_form

    store = _store(db_url)
    view = store.task(task_id)
    if view.status != "ready":
        raise UserError(f"Task {task_id} is already {view.status}")
    if not view.form:
        raise UserError(f"Task {task_id} has no form")
    form = store.task_pack(task_id).form(view.form)
    out.print(f"[bold]{view.title}[/] (case {view.case_id})")
    values = ask_form(out, form)
    opened = store.complete_task(task_id, values, _actor())
    _after_complete(task_id, opened, False)


# -- timers, stories, audit, demo ----------------------------------------------------------

@main.group()
def timers() -> None:
    """Timers in running processes."""


@timers.command("run")
@click.option("--until", metavar="DATE", help="Fire timers due by the end of DATE "
              "(default: now).")
@db_option
@handle_errors
def timers_run(until: str | None, db_url: str | None) -> None:
    """Fire every timer that is due."""
    from carepath.engine.time.clock import FixedClock, current_clock, use_clock

    store = _store(db_url)
    if until:
        moment = datetime.combine(_parse_day(until), time(23, 59, 59), LONDON).astimezone(UTC)
        with use_clock(FixedClock(moment)):
            moved = store.run_timers(moment)
    else:
        moved = store.run_timers(current_clock().now())
    out.print(f"{moved} process{'es' if moved != 1 else ''} moved on.")


@main.group()
def story() -> None:
    """Stories: a child's case told independently of any pack."""


@story.command("run")
@click.argument("story_file", metavar="STORY.yaml")
@click.option("--pack", "pack_name", required=True, help="Pack name or directory.")
@db_option
@json_option
@handle_errors
def story_run(story_file: str, pack_name: str, db_url: str | None, as_json: bool) -> None:
    """Drive a pack with a story, recording it as a caseworker would."""
    from carepath.adapters.stories import StoryRunner
    from carepath.engine.stories.story import parse_story

    data = parse_story(_read_yaml(story_file, "Story"), story_file)
    store = _store(db_url)
    result = StoryRunner(store, store.packs.get(pack_name)).run(data)
    if as_json:
        _print_json(result.as_json())
        return
    out.print(f"Story recorded on case {', '.join(map(str, result.case_ids))} "
              f"({result.completed} tasks completed).")
    if result.stopped_at:
        out.print("Stopped with these tasks open (the story has nothing for them):")
        _task_table(result.stopped_at)


@main.group()
def audit() -> None:
    """The tamper-evident case history."""


@audit.command("verify")
@click.option("--case", "case_id", type=int, help="Only this case.")
@db_option
@handle_errors
def audit_verify(case_id: int | None, db_url: str | None) -> None:
    """Check every case's event chain; exit 1 if any event was edited, inserted or deleted."""
    from sqlalchemy.orm import Session

    from carepath.adapters.db.audit import verify

    store = _store(db_url)
    with Session(store.engine) as session:
        problems = verify(session, case_id)
    if not problems:
        out.print("Audit trail intact.")
        return
    for p in problems:
        err.print(f"case {p.case_id}: {p.problem}")
    sys.exit(1)


@main.command()
@click.option("--db", "db_url", metavar="URL", default="sqlite:///carepath-demo.db",
              show_default=True, help="Where to put the demo caseload.")
@handle_errors
def demo(db_url: str) -> None:
    """Build a demo caseload: every sample story on both built-in packs."""
    from carepath.adapters.cli.demo import build_demo

    build_demo(db_url, out)


def _register_commands() -> None:
    """Command groups that live beside the features they drive."""
    from carepath.adapters.cli.check import check
    from carepath.adapters.cli.returns import returns
    from carepath.adapters.cli.simulate import pack_test_command, simulate_command

    main.add_command(returns)
    main.add_command(simulate_command)
    pack.add_command(check)
    pack.add_command(pack_test_command)


_register_commands()


def run() -> None:
    """Console entry point: no traceback ever reaches a user."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        err.print("Stopped. Nothing more was saved.")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("CAREPATH_DEBUG"):
            raise
        err.print(f"Error: carepath hit an unexpected problem ({type(exc).__name__}). "
                  "Nothing was saved. Run again with CAREPATH_DEBUG=1 to see the details.")
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    run()
