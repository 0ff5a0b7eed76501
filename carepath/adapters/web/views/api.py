"""The JSON API under ``/api/v1/`` for vendors' integrations (bearer tokens; errors as
``application/problem+json``; the OpenAPI document at ``/api/v1/openapi.json``).

Every route only calls the application service. A case or task the user may not see is 404,
as one that does not exist. A change names the case version it was made against (``If-Match:
"VERSION"``, the ETag of the case or task read, or ``"version"`` in the body): without one it
is 428, and if the case has moved on since, 409 and nothing is written. Errors never repeat
the values sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from flask import Blueprint, Flask, Response, request, url_for

from carepath.core.errors import (
    ActionUnavailableError,
    AuthenticationError,
    CarepathError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RecordError,
    StorageError,
    TaskStateError,
)
from carepath.forms.validation import FieldError, FormErrors
from carepath.service.chronology import FILTERS
from carepath.service.types import InboxQuery, JsonObject, TaskView

from ..app import csrf
from ..auth import current_actor, current_user
from ..context import services
from ..openapi import document
from ..security import ANYONE, TOKEN, allow

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PROBLEM_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden",
                  404: "Not found", 405: "Method not allowed", 409: "Conflict",
                  412: "Precondition failed", 413: "Content too large",
                  415: "Unsupported media type", 422: "Unprocessable content",
                  428: "Precondition required", 500: "Internal server error",
                  503: "Service unavailable"}
STALE = ("This case changed since you read it: nothing was saved. Read it again and send "
         "your change with the new version.")
OPENS_CASES = frozenset({"social_worker", "team_manager"})
MAX_DEPTH = 16  # a form's answers nest 4 deep at most (body, values, group rows, a row)
_ETAG = re.compile(r'^(?:W/)?"(\d{1,18})"$')


def problem(status: int, detail: str, **extra: object) -> Response:
    body = {"type": "about:blank", "title": PROBLEM_TITLES.get(status, "Error"),
            "status": status, "detail": detail, **extra}
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="carepath"'
    return response


class Problem(Exception):
    """Stop here and answer with a problem (raised by the helpers below)."""

    def __init__(self, status: int, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def fail(status: int, detail: str, **extra: object) -> NoReturn:
    raise Problem(status, detail, **extra)


@bp.errorhandler(Problem)
def _problem(e: Problem) -> Response:
    return problem(e.status, e.detail, **e.extra)


def _field_errors(errors: list[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


@bp.errorhandler(CarepathError)
def _service_error(e: CarepathError) -> Response:
    """The service's errors, written for users (they name no values sent)."""
    if isinstance(e, FormErrors):
        return problem(422, str(e), errors=_field_errors(e.errors))
    if isinstance(e, NotFoundError):
        return problem(404, str(e))
    if isinstance(e, PermissionDeniedError):
        return problem(403, str(e))
    if isinstance(e, AuthenticationError):
        return problem(401, str(e))
    if isinstance(e, ConflictError):
        return problem(409, STALE)
    if isinstance(e, TaskStateError | ActionUnavailableError):
        return problem(409, str(e))
    if isinstance(e, RecordError):
        return problem(422, str(e))
    if isinstance(e, StorageError):
        return problem(503, "The database is not available now. Nothing was changed.")
    return problem(400, str(e))


def ok(body: object, status: int = 200, etag: int | None = None,
       location: str | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    if etag is not None:
        response.headers["ETag"] = f'"{etag}"'
    if location is not None:
        response.headers["Location"] = location
    return response


# -- reading requests ------------------------------------------------------------------------

def _no_constant(name: str) -> NoReturn:
    raise ValueError(name)


def _depth(value: object) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                children = item.values() if isinstance(item, dict) else item
                stack.extend((child, depth + 1) for child in children)
    return deepest


def json_body(members: frozenset[str], required: frozenset[str] = frozenset(),
              optional_body: bool = False) -> dict[str, Any]:
    """The request's JSON object: 415 if it is not JSON, 400 if it does not parse, is not an
    object, lacks a required member or has one not known."""
    raw = request.get_data(cache=True)
    if not raw and optional_body and not required:
        return {}
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        fail(415, "Send the body as JSON, with Content-Type: application/json")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        fail(400, "The body is not valid JSON (UTF-8)")
    if _depth(body) > MAX_DEPTH:
        fail(400, f"The body nests lists and objects more than {MAX_DEPTH} deep")
    if not isinstance(body, dict):
        fail(400, "The body must be a JSON object")
    unknown = sorted(set(body) - members)
    if unknown:
        fail(400, f"Unknown member{'s' if len(unknown) > 1 else ''} in the body: "
                  f"{', '.join(repr(k[:40]) for k in unknown[:5])} (known: "
                  f"{', '.join(sorted(members))})")
    missing = sorted(required - set(body))
    if missing:
        fail(400, f"The body needs {', '.join(repr(m) for m in missing)}")
    return body


def object_member(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name, {})
    if not isinstance(value, dict):
        fail(400, f"'{name}' must be a JSON object")
    return value


def expected_version(body: Mapping[str, Any]) -> int:
    """The case version the change was made against: If-Match or the body's "version"."""
    from_body: int | None = None
    if "version" in body:
        value = body["version"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            fail(400, "'version' must be the case version you read (a whole number)")
        from_body = value
    header = request.headers.get("If-Match")
    from_header: int | None = None
    if header is not None:
        found = _ETAG.match(header.strip())
        if found is None:
            fail(400, 'If-Match must be the ETag you read, like "12" (one version, in '
                      'quotes)')
        from_header = int(found.group(1))
    if from_body is not None and from_header is not None and from_body != from_header:
        fail(400, "If-Match and 'version' differ: send the version you read once")
    version = from_header if from_header is not None else from_body
    if version is None:
        fail(428, 'Say which version of the case you read: send If-Match: "VERSION" (the '
                  'ETag of the case or task) or "version" in the body')
    return version


def _query_int(name: str, default: int, errors: list[FieldError]) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or len(text) > 9:
        errors.append(FieldError(name, f"'{name}' must be a whole number"))
        return default
    return int(text)


# -- what the user may see -------------------------------------------------------------------

def visible_case(case_id: int) -> None:
    if not services().cases.may_see(case_id, current_actor()):
        fail(404, f"There is no case {case_id}")


def visible_task(task_id: int) -> TaskView:
    cases = services().cases
    task = cases.task(task_id)  # NotFoundError: 404
    if not cases.may_see(task.case_id, current_actor()):
        fail(404, f"There is no task {task_id}")
    return task


def _stale(case_id: int, write: Callable[[], JsonObject]) -> JsonObject:
    """Run ``write``; a version conflict is 409 with the case version now."""
    try:
        return write()
    except ConflictError:
        version = services().cases.head(case_id).version
        fail(409, STALE, case_id=case_id, version=version)


def _task_json(task: TaskView) -> JsonObject:
    return {**task.as_json(), "due_this_week": task.due_this_week}


def _form_json(form: Any) -> JsonObject:
    def field(f: Any) -> JsonObject:
        return {"name": f.name, "type": f.type.value, "label": f.label, "hint": f.hint,
                "guidance": f.guidance, "required": f.required,
                "show_if": f.show_if.source if f.show_if is not None else None,
                "min": f.min, "max": f.max, "not_future": f.not_future,
                "not_before": f.not_before, "same_as": f.same_as, "record": f.record,
                "codelist": f.codelist,
                "options": [{"value": o.value, "label": o.label} for o in f.options],
                "fields": [field(g) for g in f.fields]}

    return {"id": form.id, "title": form.title, "guidance": form.guidance,
            "fields": [field(f) for f in form.fields]}


# -- routes ----------------------------------------------------------------------------------

@bp.route("/openapi.json")
@allow(ANYONE)
def openapi() -> Response:
    return ok(document())


@bp.route("/me")
@allow(TOKEN)
def me() -> Response:
    return ok(current_user().as_json())


@bp.route("/tasks")
@allow(TOKEN)
def inbox() -> Response:
    errors: list[FieldError] = []
    page = _query_int("page", 1, errors)
    per_page = _query_int("per_page", 25, errors)
    if errors:
        fail(400, "The query is not right", errors=_field_errors(errors))
    scope = request.args.get("scope") or "mine"
    query = InboxQuery(scope=scope,  # type: ignore[arg-type]  # the service checks it
                       stage=request.args.get("stage") or None,
                       child=request.args.get("child") or None,
                       worker=request.args.get("worker") or None,
                       page=page, per_page=per_page)
    try:
        found = services().cases.inbox(query, current_actor())
    except FormErrors as e:
        fail(400, "The query is not right", errors=_field_errors(e.errors))
    return ok(found.as_json())


@bp.route("/tasks/<int:task_id>")
@allow(TOKEN)
def task(task_id: int) -> Response:
    tf = services().cases.task_form(task_id, current_actor())  # 404 if not visible
    return ok({"task": _task_json(tf.task), "version": tf.version,
               "form": _form_json(tf.form) if tf.form is not None else None},
              etag=tf.version)


@bp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@allow(TOKEN)
def complete(task_id: int) -> Response:
    task = visible_task(task_id)
    body = json_body(frozenset({"values", "version"}), frozenset({"values"}))
    values = object_member(body, "values")
    version = expected_version(body)
    done = _stale(task.case_id, lambda: services().cases.complete_task(
        task_id, values, current_actor(), expected_version=version).as_json())
    return ok(done)


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@allow(TOKEN)
def claim(task_id: int) -> Response:
    task = visible_task(task_id)
    return ok(_stale(task.case_id, lambda: _task_json(
        services().cases.claim_task(task_id, current_actor()))))


@bp.route("/tasks/<int:task_id>/due")
@allow(TOKEN)
def why_due(task_id: int) -> Response:
    task = visible_task(task_id)
    explanation = services().cases.explain_due(task_id)
    return ok({"task_id": task_id, "due": task.due.isoformat() if task.due else None,
               "explanation": explanation.as_json() if explanation else None})


@bp.route("/cases", methods=["POST"])
@allow(TOKEN)
def open_case() -> Response:
    user = current_user()
    if not user.roles & OPENS_CASES:
        fail(403, "Only a social worker or a team manager can record a referral")
    body = json_body(frozenset({"pack", "child", "referral", "team"}),
                     frozenset({"pack", "child", "referral"}))
    child = object_member(body, "child")
    referral = object_member(body, "referral")
    pack = body["pack"]
    installed = {p.name for p in services().packs.installed()}
    errors: list[FieldError] = []
    if not isinstance(pack, str) or pack not in installed:
        errors.append(FieldError("pack", "Choose an installed process pack: "
                                         + ", ".join(sorted(installed))))
    team = body.get("team")
    if team is None:
        team = sorted(user.teams)[0] if user.teams else None
    elif not isinstance(team, str) or team not in user.teams:
        errors.append(FieldError("team", "Choose one of your teams: "
                                         + (", ".join(sorted(user.teams)) or "you have none")))
    if errors:
        raise FormErrors(errors)
    worker = user.name if "social_worker" in user.roles else None
    opened = services().cases.open_case(pack, child, referral, current_actor(),
                                        worker=worker, team=team)
    return ok(opened.as_json(), status=201,
              location=url_for("api.case", case_id=opened.case_id))


@bp.route("/cases/<int:case_id>")
@allow(TOKEN)
def case(case_id: int) -> Response:
    view = services().cases.view_case(case_id, current_actor())  # 404 if not visible
    return ok({**view.as_json(), "version": view.version}, etag=view.version)


@bp.route("/cases/<int:case_id>/chronology")
@allow(TOKEN)
def chronology(case_id: int) -> Response:
    visible_case(case_id)
    show = request.args.get("show") or None
    if show is not None and show not in FILTERS:
        fail(400, "'show' must be one of: " + ", ".join(FILTERS),
             errors=[{"field": "show", "message": "Choose one of: " + ", ".join(FILTERS)}])
    entries = services().cases.chronology(case_id, current_actor(), show)
    return ok({"case_id": case_id, "show": show, "entries": [e.as_json() for e in entries]})


@bp.route("/cases/<int:case_id>/actions")
@allow(TOKEN)
def actions(case_id: int) -> Response:
    visible_case(case_id)
    cases = services().cases
    version = cases.head(case_id).version
    found = cases.actions(case_id, current_actor())
    return ok({"case_id": case_id, "version": version,
               "actions": [{**a.as_json(), "changes": a.changes} for a in found]},
              etag=version)


@bp.route("/cases/<int:case_id>/actions/<name>", methods=["POST"])
@allow(TOKEN)
def act(case_id: int, name: str) -> Response:
    visible_case(case_id)
    body = json_body(frozenset({"data", "version"}), optional_body=True)
    data = object_member(body, "data") if "data" in body else None
    version = expected_version(body)
    return ok(_stale(case_id, lambda: services().cases.act(
        case_id, name, current_actor(), data=data, expected_version=version).as_json()))


def register(app: Flask) -> None:
    from . import api_moves  # noqa: F401  (its routes are on this blueprint)

    csrf.exempt(bp)
    app.register_blueprint(bp)
