"""A task: its form as a GOV.UK form, drafts, completing it, and why it is due when it is."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers.response import Response as BaseResponse

from carepath.core.errors import (
    CarepathError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    TaskStateError,
)
from carepath.forms.validation import FormErrors

from ..auth import current_actor
from ..context import services
from ..forms import SubmissionError, build_page, parse_submission, raw_from_values
from ..security import SIGNED_IN, allow
from .common import process_titles

bp = Blueprint("tasks", __name__)
CHANGED = ("This case changed since you opened it: someone else saved work on it. Your "
           "answers are still here. Check the case file, then submit again.")


def _task_form(task_id: int) -> Any:
    try:
        return services().cases.task_form(task_id, current_actor())
    except NotFoundError:
        abort(404)


def _render(tf: Any, raw: Any, errors: Any = (), version: int | None = None,
            notice: str | None = None, status: int = 200) -> tuple[str, int]:
    page = build_page(tf.form, raw, tf.context, errors)
    return render_template("views/task.html", tf=tf, task=tf.task, page=page,
                           errors=page.error_list, notice=notice,
                           version=tf.version if version is None else version,
                           titles=process_titles(), active_nav="tasks"), status


@bp.route("/tasks/<int:task_id>", methods=["GET"])
@allow(SIGNED_IN)
def task(task_id: int) -> tuple[str, int]:
    tf = _task_form(task_id)
    if tf.task.status != "ready" or tf.form is None:
        return render_template("views/task_closed.html", task=tf.task,
                               titles=process_titles(), active_nav="tasks"), 200
    raw = tf.draft
    notice = "You are carrying on from a saved draft." if tf.draft else None
    if raw is None and tf.previous:
        raw = raw_from_values(tf.form, tf.previous)
        notice = "This work was returned to you. Your previous answers are filled in."
    if tf.returned_reason:
        notice = f"{notice or ''} Reason given: {tf.returned_reason}".strip()
    return _render(tf, raw, notice=notice)


@bp.route("/tasks/<int:task_id>", methods=["POST"])
@allow(SIGNED_IN)
def submit(task_id: int) -> BaseResponse | tuple[str, int]:
    tf = _task_form(task_id)
    if tf.task.status != "ready" or tf.form is None:
        return render_template("views/task_closed.html", task=tf.task,
                               titles=process_titles(), active_nav="tasks"), 409
    version_text = request.form.get("version", "")
    version = int(version_text) if version_text.isdigit() else tf.version
    try:
        sub = parse_submission(tf.form, request.form, tf.context)
    except SubmissionError as e:
        return render_template("errors/error.html", status=400,
                               title="Sorry, there is a problem with what was sent",
                               message=f"{e} Nothing was saved."), 400
    cases = services().cases
    actor = current_actor()
    if sub.intent.kind == "save_draft":
        try:
            cases.save_draft(task_id, sub.raw, actor)
        except CarepathError as e:
            return _render(tf, sub.raw, version=version, notice=str(e), status=400)
        flash("Draft saved. You can come back to it from your tasks.", "success")
        return redirect(url_for("tasks.task", task_id=task_id))
    if not sub.intent.validates:  # add or remove a row, or update the questions
        return _render(tf, sub.raw, version=version)
    try:
        done = cases.complete_task(task_id, sub.values, actor, expected_version=version)
    except FormErrors as e:
        return _render(tf, sub.raw, e.errors, version=version, status=400)
    except ConflictError:
        return _render(tf, sub.raw, version=tf.version, notice=CHANGED, status=409)
    except TaskStateError as e:
        flash(str(e), "error")
        return redirect(url_for("cases.case", case_id=tf.task.case_id))
    except PermissionDeniedError as e:
        return _render(tf, sub.raw, version=version, notice=str(e), status=403)
    session["done"] = {"task": task_id, "opened": [t.id for t in done.opened]}
    return redirect(url_for("tasks.done", task_id=task_id))


@bp.route("/tasks/<int:task_id>/done")
@allow(SIGNED_IN)
def done(task_id: int) -> str:
    tf = _task_form(task_id)
    record = session.get("done") or {}
    opened_ids = record.get("opened", []) if record.get("task") == task_id else []
    opened = []
    for tid in opened_ids:
        try:
            opened.append(services().cases.task(int(tid)))
        except (NotFoundError, ValueError, TypeError):
            continue
    return render_template("views/task_done.html", task=tf.task, opened=opened,
                           active_nav="tasks")


@bp.route("/tasks/<int:task_id>/due")
@allow(SIGNED_IN)
def why_due(task_id: int) -> str:
    tf = _task_form(task_id)
    explanation = services().cases.explain_due(task_id)
    return render_template("views/why_due.html", task=tf.task, why=explanation,
                           active_nav="tasks")
