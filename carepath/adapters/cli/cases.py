"""``carepath case …`` and ``carepath task …``: casework from a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.table import Table

from carepath.adapters.cli.errors import UserError, handle_errors
from carepath.adapters.cli.options import (
    actor,
    db_option,
    err,
    json_option,
    out,
    print_json,
    read_mapping,
)

if TYPE_CHECKING:
    from carepath.adapters.app import Services
    from carepath.service.types import TaskView


def services(db_url: str | None) -> Services:
    from carepath.adapters.app import open_services

    return open_services(db_url)


def task_table(tasks: list[TaskView]) -> None:
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


# -- cases ---------------------------------------------------------------------------------

@click.group()
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
    child = read_mapping(child_file, "Child")
    referral = read_mapping(referral_file, "Referral")
    opened = services(db_url).cases.open_case(pack_name, child, referral, actor(),
                                              worker=worker, team=team)
    if as_json:
        print_json(opened.as_json())
        return
    out.print(f"Case {opened.case_id} open.")
    task_table(opened.open_tasks)


@case.command("list")
@db_option
@json_option
@handle_errors
def case_list(db_url: str | None, as_json: bool) -> None:
    """Every case, with its open tasks."""
    rows = services(db_url).cases.list_cases()
    if as_json:
        print_json([r.as_json() for r in rows])
        return
    table = Table("Case", "LA child ID", "Pack", "Worker", "Team", "Open tasks")
    for r in rows:
        table.add_row(str(r.case_id), r.la_child_id, r.pack, r.worker or "", r.team or "",
                      str(r.open_tasks))
    out.print(table)


@case.command("show")
@click.argument("case_id", type=int)
@db_option
@json_option
@handle_errors
def case_show(case_id: int, db_url: str | None, as_json: bool) -> None:
    """A case: its record, open tasks and history (with a warning if the case fails its
    audit: `carepath audit verify --case ID` says why)."""
    found = services(db_url)
    detail = found.cases.case_view(case_id).as_json()
    report = found.audit.verify_case(case_id)
    detail["audit"] = {"intact": report.intact,
                       "problems": [p.problem for p in report.problems]}
    if as_json:
        print_json(detail)
        return
    from carepath.adapters.cli.terminal import print_case

    if not report.intact:
        count = len(report.problems)
        err.print(f"Warning: case {case_id} fails its audit ({count} problem"
                  f"{'s' if count != 1 else ''}): its events or record tables were changed "
                  f"outside carepath. Run `carepath audit verify --case {case_id}`.",
                  markup=False)
    print_case(out, detail)


@case.command("map")
@click.argument("case_id", type=int)
@click.option("--out", "out_dir", default=".", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False), help="Folder to write the SVG files to.")
@click.option("--all", "include_finished", is_flag=True,
              help="Also draw the instances that have finished.")
@db_option
@json_option
@handle_errors
def case_map(case_id: int, out_dir: str, include_finished: bool, db_url: str | None,
             as_json: bool) -> None:
    """Draw each running process of a case as an SVG, with where the case is now."""
    from pathlib import Path

    from carepath.adapters.web.process_map import render_svg

    maps = services(db_url).cases.process_maps(case_id, include_finished=include_finished)
    if not maps:
        raise UserError(f"Case {case_id} has no {'' if include_finished else 'running '}"
                        "process to draw")
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for pm in maps:
            path = folder / f"case-{case_id}-{pm.instance_id}-{pm.process_id}.svg"
            path.write_text(render_svg(pm), encoding="utf-8")
            written.append((pm, path))
    except OSError as exc:
        raise UserError(f"Cannot write the maps to {folder}: {exc.strerror or exc}") from None
    if as_json:
        print_json([{**pm.as_json(), "file": str(path)} for pm, path in written])
        return
    from rich.markup import escape

    for pm, path in written:
        now = ", ".join(pm.current_steps()) or pm.status
        out.print(f"{escape(str(path))}: {escape(pm.title)} ({escape(now)})")


@case.command("actions")
@click.argument("case_id", type=int)
@db_option
@json_option
@handle_errors
def case_actions(case_id: int, db_url: str | None, as_json: bool) -> None:
    """The actions that may be taken on a case now (a strategy discussion, a new assessment…)."""
    actions = services(db_url).cases.actions(case_id, actor())
    if as_json:
        print_json([a.as_json() for a in actions])
        return
    if not actions:
        out.print("No actions are available on this case now.")
        return
    table = Table("Action", "Title", "Role")
    for a in actions:
        table.add_row(a.name, a.title, a.role)
    out.print(table)


@case.command("act")
@click.argument("case_id", type=int)
@click.argument("action")
@click.option("--data", "data_file", metavar="VALUES.yaml",
              help="Answers for the first task the action opens, completed with it.")
@db_option
@json_option
@handle_errors
def case_act(case_id: int, action: str, data_file: str | None, db_url: str | None,
             as_json: bool) -> None:
    """Take ACTION on a case: start its process now."""
    values = read_mapping(data_file, "Answers", empty_ok=True) if data_file else None
    taken = services(db_url).cases.act(case_id, action, actor(), data=values)
    if as_json:
        print_json(taken.as_json())
        return
    out.print(f"{taken.title}: done on case {case_id}.")
    if taken.opened:
        out.print("Now ready:")
        task_table(taken.opened)


# -- tasks ---------------------------------------------------------------------------------

@click.group()
def task() -> None:
    """Tasks: list, show, claim, complete."""


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
    from carepath.service.types import TaskFilter

    tasks = services(db_url).cases.tasks(TaskFilter(case_id=case_id, overdue=overdue,
                                                    assignee=assignee))
    if as_json:
        print_json([t.as_json() for t in tasks])
        return
    task_table(tasks)


@task.command("show")
@click.argument("task_id", type=int)
@db_option
@json_option
@handle_errors
def task_show(task_id: int, db_url: str | None, as_json: bool) -> None:
    """A task and the questions its form asks."""
    cases = services(db_url).cases
    view = cases.task(task_id)
    form = cases.task_pack(task_id).form(view.form) if view.form else None
    from carepath.adapters.cli.terminal import form_json, print_form

    explanation = cases.explain_due(task_id)
    if as_json:
        print_json({**view.as_json(), "form_fields": form_json(form) if form else [],
                    "due_explanation": explanation.as_json() if explanation else None})
        return
    task_table([view])
    if explanation is not None:
        from rich.markup import escape

        out.print(f"[bold]Why it is due then[/] ({escape(explanation.title)})")
        for line in explanation.lines():
            out.print(f"  {escape(line)}")
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
    values = read_mapping(data_file, "Answers", empty_ok=True)
    done = services(db_url).cases.complete_task(task_id, values, actor())
    after_complete(task_id, done.opened, as_json)


def after_complete(task_id: int, opened: list[TaskView], as_json: bool) -> None:
    if as_json:
        print_json({"completed": task_id, "opened": [t.as_json() for t in opened]})
        return
    out.print(f"Task {task_id} completed.")
    if opened:
        out.print("Now ready:")
        task_table(opened)


@task.command("do")
@click.argument("task_id", type=int)
@db_option
@handle_errors
def task_do(task_id: int, db_url: str | None) -> None:
    """Complete a task by answering its form's questions one by one."""
    from carepath.adapters.cli.terminal import ask_form

    cases = services(db_url).cases
    view = cases.task(task_id)
    if view.status != "ready":
        raise UserError(f"Task {task_id} is already {view.status}")
    if not view.form:
        raise UserError(f"Task {task_id} has no form")
    form = cases.task_pack(task_id).form(view.form)
    out.print(f"[bold]{view.title}[/] (case {view.case_id})")
    values = ask_form(out, form)
    done = cases.complete_task(task_id, values, actor())
    after_complete(task_id, done.opened, False)


@task.command("claim")
@click.argument("task_id", type=int)
@db_option
@json_option
@handle_errors
def task_claim(task_id: int, db_url: str | None, as_json: bool) -> None:
    """Take a task: it is assigned to you (CAREPATH_USER, or your login name)."""
    view = services(db_url).cases.claim_task(task_id, actor())
    if as_json:
        print_json(view.as_json())
        return
    out.print(f"Task {task_id} is now assigned to {view.assignee}.")


@task.command("assign")
@click.argument("task_id", type=int)
@click.argument("person", required=False)
@db_option
@json_option
@handle_errors
def task_assign(task_id: int, person: str | None, db_url: str | None, as_json: bool) -> None:
    """Assign a task to PERSON (leave PERSON out to give it back to the team)."""
    view = services(db_url).cases.assign_task(task_id, person, actor())
    if as_json:
        print_json(view.as_json())
        return
    out.print(f"Task {task_id} is now assigned to {view.assignee or 'the team'}.")
