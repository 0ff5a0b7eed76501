"""The JSON API's routes for administrators changing the process under live cases: the pack
versions with their running instances and pins, and a dry run of moving cases (the report of
``carepath migrate --dry-run --json``). Moving cases for real stays a command-line operation."""

from __future__ import annotations

from typing import NoReturn

from flask import Response

from carepath.core.errors import CarepathError, StorageError
from carepath.forms.validation import FieldError
from carepath.service.migration_types import parse_key

from ..auth import current_user
from ..context import services
from ..security import TOKEN, allow
from .api import _field_errors, bp, fail, json_body, ok

MAX_CASE_IDS = 10_000


def _administrator() -> None:
    if "administrator" not in current_user().roles:
        fail(403, "Only an administrator can see pack versions and move cases")


@bp.route("/packs")
@allow(TOKEN)
def packs() -> Response:
    _administrator()
    return ok({"packs": [v.as_json() for v in services().migration.versions()]})


def _unprocessable(name: str, message: str) -> NoReturn:
    fail(422, message, errors=_field_errors([FieldError(name, message)]))


@bp.route("/migrations/dry-run", methods=["POST"])
@allow(TOKEN)
def dry_run() -> Response:
    _administrator()
    body = json_body(frozenset({"to", "all", "from", "case_ids"}), frozenset({"to"}))
    to = body["to"]
    if not isinstance(to, str):
        fail(400, "'to' must be a string: the pack version to move cases to, like "
                  "wt2023@1.0.0")
    chosen = [k for k in ("all", "from", "case_ids") if k in body]
    if len(chosen) != 1:
        fail(400, "Say which cases to move with exactly one of 'all' (true), 'from' (a pack, "
                  "or PACK@VERSION) or 'case_ids' (a list of case ids)")
    all_cases, from_pack, case_ids = False, None, []
    if "all" in body:
        if body["all"] is not True:
            fail(400, "'all' must be true (or leave it out and send 'from' or 'case_ids')")
        all_cases = True
    elif "from" in body:
        from_pack = body["from"]
        if not isinstance(from_pack, str):
            fail(400, "'from' must be a string: a pack, or PACK@VERSION")
        try:
            parse_key(from_pack, need_version=False)
        except CarepathError as e:
            _unprocessable("from", str(e))
    else:
        raw = body["case_ids"]
        if not isinstance(raw, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in raw):
            fail(400, "'case_ids' must be a list of case ids (whole numbers)")
        if not raw:
            _unprocessable("case_ids", "'case_ids' is empty: name at least one case")
        if len(raw) > MAX_CASE_IDS:
            _unprocessable("case_ids", f"At most {MAX_CASE_IDS} case ids in one dry run: "
                                       "choose the cases by pack with 'from'")
        case_ids = raw
    try:
        parse_key(to, need_version=True)
        report = services().migration.migrate(to, current_user().name, all_cases=all_cases,
                                              from_pack=from_pack, case_ids=case_ids,
                                              dry_run=True)
    except StorageError:
        raise
    except CarepathError as e:  # not NAME@VERSION, not installed, or fails pack check
        _unprocessable("to", str(e))
    return ok(report.as_json())
