"""The case file: the child, stages, open tasks, actions, chronology, record, process maps."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers.response import Response as BaseResponse

from carepath.core.errors import (
    ActionUnavailableError,
    CarepathError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from carepath.forms.validation import FormErrors
from carepath.service.case_file import child_rows, episode_views
from carepath.service.chronology import FILTERS

from ..auth import current_actor, current_user
from ..context import services
from ..process_map import render_svg
from ..security import SIGNED_IN, allow

bp = Blueprint("cases", __name__)


@bp.route("/cases", methods=["GET"])
@allow(SIGNED_IN)
def case_list() -> BaseResponse | tuple[str, int]:
    child = (request.args.get("child") or "").strip()
    errors = []
    if "child" in request.args:
        if not child:
            errors.append({"text": "Enter the child’s LA child ID", "href": "#child"})
        else:
            try:
                head = services().cases.find_case(child, current_actor())
            except NotFoundError:
                errors.append({"text": "No case you can see has that LA child ID",
                               "href": "#child"})
            else:
                return redirect(url_for("cases.case", case_id=head.case_id))
    return render_template("views/case_search.html", errors=errors, child=child,
                           active_nav="cases"), 400 if errors else 200


def _case_or_404(case_id: int) -> Any:
    try:
        return services().cases.view_case(case_id, current_actor())
    except NotFoundError:
        abort(404)


@bp.route("/cases/<int:case_id>")
@allow(SIGNED_IN)
def case(case_id: int) -> str:
    show = request.args.get("show") or None
    if show is not None and show not in FILTERS:
        show = None
    try:
        page = services().cases.case_page(case_id, current_actor(), show)
    except NotFoundError:
        abort(404)
    view = page.view
    child = view.record.get("child")
    episodes = view.record.get("episodes")
    return render_template(
        "views/case.html", view=view,
        child=child_rows(child if isinstance(child, dict) else {}),
        episodes=episode_views([e for e in episodes if isinstance(e, dict)]
                               if isinstance(episodes, list) else []),
        actions=page.actions,
        chronology=page.chronology, show=show, filters=FILTERS,
        maps=[(pm, Markup(render_svg(pm))) for pm in page.maps], audit=page.audit,
        active_nav="cases")


@bp.route("/cases/<int:case_id>/actions/<name>", methods=["GET", "POST"])
@allow(SIGNED_IN)
def action(case_id: int, name: str) -> BaseResponse | tuple[str, int]:
    view = _case_or_404(case_id)
    cases = services().cases
    actor = current_actor()
    offered = {a.name: a for a in cases.actions(case_id, actor)}
    found = offered.get(name)
    if found is None:
        flash("That action cannot be taken on this case now", "error")
        return redirect(url_for("cases.case", case_id=case_id))
    is_worker_change = found.changes == "worker"
    people = []
    if is_worker_change:
        people = [u for u in services().people.users()
                  if u.active and "social_worker" in u.roles
                  and (view.team is None or view.team in u.teams)
                  and u.name != view.worker]
    errors: list[dict[str, str]] = []
    status = 200
    if request.method == "POST":
        version = request.form.get("version", "")
        data: dict[str, Any] | None = None
        if is_worker_change:
            worker = request.form.get("worker", "")
            if worker not in {p.name for p in people}:
                errors.append({"text": "Select the new allocated worker", "href": "#worker"})
            data = {"worker": worker}
        if not errors:
            try:
                taken = cases.act(case_id, name, actor, data,
                                  expected_version=int(version) if version.isdigit() else None)
            except ConflictError:
                errors.append({"text": "This case changed since you opened it. Check the "
                                       "case file, then try again.", "href": "#main-content"})
            except FormErrors as e:
                errors.extend({"text": f.message, "href": f"#{f.field}"} for f in e.errors)
            except (ActionUnavailableError, PermissionDeniedError) as e:
                errors.append({"text": str(e), "href": "#main-content"})
            except CarepathError as e:
                errors.append({"text": str(e), "href": "#main-content"})
            else:
                opened = ", ".join(t.title for t in taken.opened)
                flash(f"{taken.title}: done." + (f" Next: {opened}." if opened else ""),
                      "success")
                if len(taken.opened) == 1 and taken.opened[0].assignee == current_user().name:
                    return redirect(url_for("tasks.task", task_id=taken.opened[0].id))
                return redirect(url_for("cases.case", case_id=case_id))
        status = 400 if errors else 200
    return render_template("views/action.html", view=view, action=found, people=people,
                           errors=errors, worker_change=is_worker_change,
                           active_nav="cases"), status


def _split_errors(errors: Any) -> tuple[list[Any], list[Any]]:
    from carepath.forms.validation import FieldError

    child: list[FieldError] = []
    referral: list[FieldError] = []
    for e in errors:
        prefix, _, rest = e.field.partition(".")
        target = child if prefix == "child" else referral
        target.append(FieldError(rest or e.field, e.message))
    return child, referral


@bp.route("/cases/new", methods=["GET", "POST"])
@allow("social_worker", "team_manager")
def new_case() -> BaseResponse | tuple[str, int]:
    from ..forms import SubmissionError, build_page, parse_submission

    cases = services().cases
    child_form, referral_form = cases.intake_forms()
    ctx = cases.intake_context()
    packs = services().packs.installed()
    user = current_user()
    pack_name = request.form.get("pack") or (packs[0].name if packs else "")
    child_raw: Any = None
    referral_raw: Any = None
    child_errors: list[Any] = []
    referral_errors: list[Any] = []
    notice = None
    status = 200
    if request.method == "POST":
        try:
            child_sub = parse_submission(child_form, request.form, ctx)
            referral_sub = parse_submission(referral_form, request.form, ctx)
        except SubmissionError as e:
            abort(400, description=str(e))
        child_raw, referral_raw = child_sub.raw, referral_sub.raw
        if child_sub.intent.validates:
            if pack_name not in {p.name for p in packs}:
                notice = "Choose the process pack for this case"
                status = 400
            else:
                team = sorted(user.teams)[0] if user.teams else None
                worker = user.name if "social_worker" in user.roles else None
                try:
                    opened = cases.open_case(pack_name, child_sub.values, referral_sub.values,
                                             current_actor(), worker=worker, team=team)
                except FormErrors as e:
                    child_errors, referral_errors = _split_errors(e.errors)
                    status = 400
                except CarepathError as e:
                    notice = str(e)
                    status = 400
                else:
                    flash("Referral recorded.", "success")
                    mine = [t for t in opened.open_tasks if t.assignee == user.name]
                    if mine:
                        return redirect(url_for("tasks.task", task_id=mine[0].id))
                    return redirect(url_for("cases.case", case_id=opened.case_id))
    child_page = build_page(child_form, child_raw, ctx, child_errors)
    referral_page = build_page(referral_form, referral_raw, ctx, referral_errors)
    errors = child_page.error_list + referral_page.error_list
    if notice:
        errors = [{"text": notice, "href": "#pack"}, *errors]
    return render_template("views/new_case.html", child_page=child_page,
                           referral_page=referral_page, errors=errors, packs=packs,
                           pack_name=pack_name, active_nav="cases"), status
