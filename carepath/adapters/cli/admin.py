"""``carepath init``, ``db``, ``timers``, ``story``, ``audit`` and ``demo``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, time

import click

from carepath.adapters.cli.cases import services, task_table
from carepath.adapters.cli.errors import UserError, handle_errors
from carepath.adapters.cli.options import (
    LONDON,
    db_option,
    err,
    json_option,
    mask,
    out,
    parse_day,
    print_json,
    read_yaml,
)
from carepath.service.types import Actor


@click.command()
@db_option
@handle_errors
def init(db_url: str | None) -> None:
    """Create the database (or bring it up to date)."""
    from carepath.adapters.db.database import make_engine, resolve_url, upgrade

    url = resolve_url(db_url)
    upgrade(make_engine(url))
    out.print(f"Database ready: {mask(url)}")


@click.group()
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


@click.group()
def timers() -> None:
    """Timers in running processes."""


@timers.command("run")
@click.option("--until", metavar="DATE", help="Fire timers due by the end of DATE "
              "(default: now).")
@db_option
@handle_errors
def timers_run(until: str | None, db_url: str | None) -> None:
    """Fire every timer that is due."""
    from carepath.engine.time.clock import current_clock

    cases = services(db_url).cases
    if until:
        moment = datetime.combine(parse_day(until), time(23, 59, 59), LONDON).astimezone(UTC)
    else:
        moment = current_clock().now()
    moved = cases.run_timers(moment, Actor.operator("timer"))
    out.print(f"{moved} process{'es' if moved != 1 else ''} moved on.")


@click.group()
def story() -> None:
    """Stories: a child's case told independently of any pack."""


@story.command("run")
@click.argument("story_file", metavar="STORY.yaml")
@click.option("--pack", "pack_name", required=True, help="Pack name or directory.")
@db_option
@json_option
@handle_errors
def story_run(story_file: str, pack_name: str, db_url: str | None, as_json: bool) -> None:
    """Drive a pack with a story, recording it as a caseworker would.

    Exit 1 if any item of the story could not be recorded (each is printed with why)."""
    from carepath.engine.stories.story import parse_story
    from carepath.service.stories import StoryRunner

    data = parse_story(read_yaml(story_file, "Story"), story_file)
    cases = services(db_url).cases
    result = StoryRunner(cases, cases.packs.get(pack_name)).run(data)
    if as_json:
        print_json(result.as_json())
    else:
        cases_text = ", ".join(map(str, result.case_ids))
        if result.unrecorded:
            out.print(f"Story only partly recorded on case {cases_text} ({result.completed} "
                      "tasks completed).")
        else:
            out.print(f"Story recorded on case {cases_text} ({result.completed} tasks "
                      "completed).")
        if result.stopped_at:
            out.print("Stopped with these tasks open (the story has nothing for them):")
            task_table(result.stopped_at)
        for item in result.unrecorded:
            err.print(f"Not recorded: {item.path}: {item.reason}", markup=False)
    if result.unrecorded:
        sys.exit(1)


@click.group()
def audit() -> None:
    """The tamper-evident case history."""


@audit.command("verify")
@click.option("--case", "case_id", type=int, help="Only this case.")
@click.option("--anchor", "anchor_file", metavar="FILE",
              help="Also check that every case's chain still holds the head this anchor "
              "(from `carepath audit anchor --out`) recorded.")
@db_option
@json_option
@handle_errors
def audit_verify(case_id: int | None, anchor_file: str | None, db_url: str | None,
                 as_json: bool) -> None:
    """Check every case's event chain, and that its record tables equal what its events say;
    exit 1 if an event was edited, inserted or deleted, or a record row differs from the
    events (each such row is named)."""
    import json

    from carepath.service.audit import anchor_from_json

    anchor = None
    if anchor_file is not None:
        try:
            with open(anchor_file, encoding="utf-8") as file:
                data = json.load(file)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UserError(f"The anchor file is not JSON text: {anchor_file}") from None
        anchor = anchor_from_json(data, anchor_file)
    report = services(db_url).audit.verify(case_id, anchor)
    if as_json:
        print_json(report.as_json())
    else:
        for p in report.problems:
            err.print(f"case {p.case_id}: {p.problem}", markup=False, highlight=False)
        for p in report.notes:
            err.print(f"note: case {p.case_id}: {p.problem}", markup=False, highlight=False)
        if report.intact:
            against = f" (anchor of {anchor.at.isoformat()} held)" if anchor is not None else ""
            out.print(f"Audit trail intact: events and record tables agree{against}.",
                      markup=False)
        else:
            count = len(report.problems)
            err.print(f"{count} problem{'s' if count != 1 else ''} found.", markup=False)
    if not report.intact:
        sys.exit(1)


@audit.command("anchor")
@click.option("--out", "out_file", metavar="FILE",
              help="Write the anchor to FILE (JSON) instead of printing it.")
@db_option
@handle_errors
def audit_anchor(out_file: str | None, db_url: str | None) -> None:
    """Print (or write) every case's chain head and a digest over them all, with the time:
    keep it away from the database, then `audit verify --anchor FILE` shows a log rewritten
    since."""
    import json

    from carepath.service.audit import anchor_to_json

    anchor = services(db_url).audit.anchor()
    text = json.dumps(anchor_to_json(anchor), indent=1) + "\n"
    if out_file is None:
        click.echo(text, nl=False)
        return
    with open(out_file, "w", encoding="utf-8") as file:
        file.write(text)
    out.print(f"Anchored {len(anchor.heads)} cases at {anchor.at.isoformat()} in {out_file} "
              f"(digest {anchor.digest}).", markup=False)


@click.command()
@click.option("--db", "db_url", metavar="URL", default="sqlite:///carepath-demo.db",
              show_default=True, help="Where to put the demo caseload.")
@click.option("--serve", "then_serve", is_flag=True,
              help="Then start the web app on it (as `carepath serve`).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="With --serve: the address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="With --serve: the port to listen on.")
@handle_errors
def demo(db_url: str, then_serve: bool, host: str, port: int) -> None:
    """Build a demo caseload (every sample story on both built-in packs) and demo logins."""
    from carepath.adapters.cli.demo import build_demo

    build_demo(db_url, out)
    if then_serve:
        from carepath.adapters.cli.serve import run_server

        out.print("\nSign in with any login above and the password carepath-demo.")
        run_server(db_url, host, port, None)
