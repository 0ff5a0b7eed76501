"""Process packs for administrators: what is installed, each process as a diagram, a preview of
each form, and the ``pack check`` result."""

from __future__ import annotations

import threading
from typing import Any

from flask import Blueprint, abort, redirect, render_template, url_for
from markupsafe import Markup
from werkzeug.wrappers.response import Response as BaseResponse

from carepath.core.errors import CarepathError
from carepath.engine.check.report import Report, rule_text, where_text

from ..context import services
from ..forms import preview_page
from ..process_map import render_svg
from ..security import allow

bp = Blueprint("admin", __name__, url_prefix="/admin")
_checks: dict[str, Report] = {}
_checks_lock = threading.Lock()


def _detail(name: str) -> Any:
    try:
        return services().packs.detail(name)
    except CarepathError:
        abort(404)


@bp.route("/packs")
@allow("administrator")
def packs() -> str:
    return render_template("views/admin_packs.html", packs=services().packs.installed(),
                           broken=services().packs.broken(), active_nav="packs")


@bp.route("/packs/<name>")
@allow("administrator")
def pack(name: str) -> str:
    detail = _detail(name)
    with _checks_lock:
        report = _checks.get(detail.key)
    return render_template("views/admin_pack.html", pack=detail, report=report,
                           rule_text=rule_text, where_text=where_text, active_nav="packs")


@bp.route("/packs/<name>/check", methods=["POST"])
@allow("administrator")
def check(name: str) -> BaseResponse:
    detail = _detail(name)
    report = services().packs.check(name)
    with _checks_lock:
        _checks[detail.key] = report
    return redirect(url_for("admin.pack", name=name) + "#check")


@bp.route("/packs/<name>/processes/<process_id>")
@allow("administrator")
def process(name: str, process_id: str) -> str:
    detail = _detail(name)
    found = next((p for p in detail.processes if p.id == process_id), None)
    if found is None:
        abort(404)
    diagram = services().packs.process_map(name, process_id)
    return render_template("views/admin_process.html", pack=detail, process=found,
                           svg=Markup(render_svg(diagram)), active_nav="packs")


@bp.route("/packs/<name>/forms/<form_id>")
@allow("administrator")
def form(name: str, form_id: str) -> str:
    detail = _detail(name)
    pack = services().packs.get(name)
    found = pack.forms.get(form_id)
    if found is None:
        abort(404)
    return render_template("views/admin_form.html", pack=detail, form=found,
                           page=preview_page(found), active_nav="packs")
