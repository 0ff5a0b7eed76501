"""The inbox: my tasks and my team's tasks, by due date."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from carepath.core.errors import CarepathError
from carepath.service.types import InboxQuery

from ..auth import current_actor, current_user
from ..context import services
from ..security import SIGNED_IN, allow
from .common import process_titles, say_error

bp = Blueprint("inbox", __name__)


def _int(name: str, default: int) -> int:
    text = request.args.get(name, "")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else default


@bp.route("/")
@allow(SIGNED_IN)
def home() -> BaseResponse:
    return redirect(url_for("inbox.inbox"))


@bp.route("/tasks")
@allow(SIGNED_IN)
def inbox() -> str:
    scope: Literal["mine", "team"] = "team" if request.args.get("scope") == "team" else "mine"
    query = InboxQuery(
        scope=scope,
        stage=request.args.get("stage") or None,
        child=(request.args.get("child") or "").strip() or None,
        worker=request.args.get("worker") or None,
        page=_int("page", 1),
        per_page=25,
    )
    actor = current_actor()
    page = services().cases.inbox(query, actor)
    titles = process_titles()
    people = []
    if scope == "team":  # the worker filter
        people = [u for u in services().people.users()
                  if u.active and u.teams & current_user().teams]
    return render_template("views/inbox.html", page=page, query=query, titles=titles,
                           people=people, active_nav="tasks")


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@allow(SIGNED_IN)
def claim(task_id: int) -> BaseResponse:
    try:
        task = services().cases.claim_task(task_id, current_actor())
    except CarepathError as e:
        say_error(e)
    else:
        flash(f"'{task.title}' is now yours", "success")
    return redirect(request.form.get("back") or url_for("inbox.inbox", scope="team"))


@bp.route("/tasks/<int:task_id>/assign", methods=["GET", "POST"])
@allow("team_manager")
def assign(task_id: int) -> BaseResponse | str:
    cases = services().cases
    actor = current_actor()
    try:
        task = cases.task(task_id)
        if not cases.may_see(task.case_id, actor):
            abort(404)
    except CarepathError:
        abort(404)
    people = [u for u in services().people.users()
              if u.active and u.teams & current_user().teams
              and (task.role is None or task.role in u.roles)]
    errors = []
    if request.method == "POST":
        who = request.form.get("assignee", "")
        names = {u.name for u in people}
        if who != "" and who not in names:
            errors.append({"text": "Select who the task is for", "href": "#assignee"})
        else:
            try:
                done = cases.assign_task(task_id, who or None, actor)
            except CarepathError as e:
                say_error(e)
            else:
                flash(f"'{done.title}' assigned to {done.assignee or 'the team'}", "success")
                return redirect(url_for("inbox.inbox", scope="team"))
    return render_template("views/assign.html", task=task, people=people, errors=errors,
                           active_nav="tasks")
