"""Changing the process under live cases, for administrators: the installed pack versions with
their running instances and pins, a pack diff between two versions (with ``pack check`` of the
newer), and a dry run of moving cases with its report.

Moving cases for real stays a command-line operation (``carepath migrate``, undone with
``carepath migrate undo RUN_ID``): the web app only ever runs a dry run, which changes nothing.
A dry run is therefore a GET (a form that sends its question in the address): it can be
bookmarked, paged through and run again, on any server worker.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from carepath.core.errors import CarepathError, StorageError
from carepath.engine.pack import Pack
from carepath.service.migration import MigrationService, pack_diff
from carepath.service.migration_types import MigrationReport, PackVersionInfo, parse_key

from ..auth import current_user
from ..context import services
from ..security import allow
from .common import say_error

bp = Blueprint("moves", __name__, url_prefix="/admin")

PER_PAGE = 50  # cases on one page of a dry-run report
MAX_CASE_IDS = 1000  # case ids typed into the form (more: choose by pack, or use the CLI)
STATUSES = ("refused", "would_move", "unchanged")
_SPLIT = re.compile(r"[\s,;]+")


def _migration() -> MigrationService:
    return services().migration


def _versions() -> list[PackVersionInfo]:
    return _migration().versions()


def _installed_keys(versions: list[PackVersionInfo]) -> list[str]:
    return [f"{v.name}@{v.version}" for v in versions if v.source]


# -- pack versions ------------------------------------------------------------------------------


def _versions_page(errors: list[dict[str, str]] | None = None, old: str = "", new: str = ""
                   ) -> tuple[str, int]:
    versions = _versions()
    by_pack: dict[str, list[PackVersionInfo]] = {}
    for v in versions:
        by_pack.setdefault(v.name, []).append(v)
    current = {v.name: v.version for v in versions if v.current}
    compare: dict[str, tuple[str, str]] = {}  # key -> (old, new): with the current version
    for name, vs in by_pack.items():
        order = [v.version for v in vs if v.source]  # newest first
        now = current.get(name)
        for version in order:
            if now is None or version == now:
                continue
            older, newer = sorted((version, now), key=order.index, reverse=True)
            compare[f"{name}@{version}"] = (f"{name}@{older}", f"{name}@{newer}")
    return render_template(
        "views/admin_versions.html", versions=versions, by_pack=by_pack, current=current,
        compare=compare,
        keys=_installed_keys(versions), errors=errors or [], old=old, new=new,
        field_errors={e["href"].lstrip("#"): e["text"] for e in errors or []},
        active_nav="packs"), 400 if errors else 200


@bp.route("/pack-versions")
@allow("administrator")
def versions() -> tuple[str, int]:
    return _versions_page()


@bp.route("/pack-versions/pin", methods=["POST"])
@allow("administrator")
def pin() -> BaseResponse:
    """Pin the version new referrals of a pack use (or unpin: the newest again). Kept in the
    database with who did it (``MigrationService.use``)."""
    name = (request.form.get("pack") or "").strip()
    version = (request.form.get("version") or "").strip()
    if not name:
        flash("Choose a pack to pin a version of. Nothing was changed.", "error")
        return redirect(url_for("moves.versions"))
    try:
        now = _migration().use(f"{name}@{version}" if version else name, current_user().name)
    except StorageError:
        raise
    except CarepathError as e:
        say_error(e)
    else:
        how = "(pinned)" if version else "(the newest version: no pin)"
        flash(f"New referrals of {name} now use {name}@{now} {how}.", "success")
    return redirect(url_for("moves.versions"))


def _pack_of(text: str, what: str, href: str, errors: list[dict[str, str]]) -> Pack | None:
    if not text:
        errors.append({"text": f"Choose the {what} version", "href": href})
        return None
    try:
        name, version = parse_key(text, need_version=True)
        assert version is not None
        return _migration().installed(name, version)
    except StorageError:
        raise
    except CarepathError as e:
        errors.append({"text": str(e), "href": href})
        return None


@bp.route("/pack-versions/diff")
@allow("administrator")
def diff() -> tuple[str, int]:
    old_text = (request.args.get("old") or "").strip()
    new_text = (request.args.get("new") or "").strip()
    errors: list[dict[str, str]] = []
    old = _pack_of(old_text, "old", "#old", errors)
    new = _pack_of(new_text, "new", "#new", errors)
    if old is None or new is None:
        return _versions_page(errors, old_text, new_text)
    lines = pack_diff(old, new)
    run_check = _migration().check
    check = run_check(new) if run_check is not None else None
    return render_template("views/admin_diff.html", old=old, new=new, lines=lines,
                           check=check, active_nav="packs"), 200


# -- moving cases: a dry run ------------------------------------------------------------------


@dataclass
class MoveQuery:
    """What the 'Move cases' form asks: a target and which cases."""

    to: str = ""
    select: str = ""  # all, from, cases
    from_pack: str = ""
    case_ids_text: str = ""
    case_ids: list[int] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Any) -> MoveQuery:
        q = cls(to=(args.get("to") or "").strip(), select=(args.get("select") or "").strip(),
                from_pack=(args.get("from") or "").strip(),
                case_ids_text=(args.get("case_ids") or "").strip())
        if not q.to:
            q.error("to", "Choose the pack version to move cases to")
        else:
            try:
                parse_key(q.to, need_version=True)
            except CarepathError as e:
                q.error("to", str(e))
        if q.select == "from":
            if not q.from_pack:
                q.error("from", "Enter the pack the cases run on now, like ics2010 or "
                                "ics2010@1.0.0")
            else:
                try:
                    parse_key(q.from_pack, need_version=False)
                except CarepathError as e:
                    q.error("from", str(e))
        elif q.select == "cases":
            q.case_ids = q._parse_ids()
        elif q.select != "all":
            q.error("select", "Choose which cases to move")
        return q

    def _parse_ids(self) -> list[int]:
        parts = [p for p in _SPLIT.split(self.case_ids_text) if p]
        if not parts:
            self.error("case_ids", "Enter the case ids, separated by spaces or commas")
            return []
        if not all(p.isdigit() and len(p) <= 12 for p in parts):
            self.error("case_ids", "Enter case ids as whole numbers, separated by spaces or "
                                   "commas")
            return []
        ids = sorted({int(p) for p in parts})
        if len(ids) > MAX_CASE_IDS:
            self.error("case_ids", f"Enter at most {MAX_CASE_IDS} case ids: for more, choose "
                                   "the cases by the pack they run on")
            return []
        return ids

    def error(self, name: str, text: str) -> None:
        self.errors.append({"text": text, "href": f"#{name}"})

    @property
    def field_errors(self) -> dict[str, str]:
        return {e["href"].lstrip("#"): e["text"] for e in self.errors}

    def command(self) -> str:
        """The ``carepath migrate`` command that moves these cases for real."""
        words = ["carepath", "migrate", "--to", self.to]
        if self.select == "all":
            words.append("--all")
        elif self.select == "from":
            words += ["--from", self.from_pack]
        else:
            for case_id in self.case_ids:
                words += ["--case", str(case_id)]
        return " ".join(shlex.quote(w) for w in words)

    def args(self) -> dict[str, str]:
        """The query as it is sent again (the report's pages)."""
        out = {"to": self.to, "select": self.select}
        if self.select == "from":
            out["from"] = self.from_pack
        elif self.select == "cases":
            out["case_ids"] = " ".join(str(i) for i in self.case_ids)
        return out


def _form_page(query: MoveQuery, status: int = 200) -> tuple[str, int]:
    versions = _versions()
    return render_template("views/admin_move.html", query=query,
                           keys=_installed_keys(versions), errors=query.errors,
                           field_errors=query.field_errors, per_page=PER_PAGE,
                           max_ids=MAX_CASE_IDS, active_nav="packs"), status


@bp.route("/migrations")
@allow("administrator")
def move_cases() -> tuple[str, int]:
    return _form_page(MoveQuery(to=(request.args.get("to") or "").strip(), select="from"))


def _page_number(text: str | None) -> int:
    if text is None or not text.isdigit() or len(text) > 9:
        return 1
    return max(1, int(text))


@bp.route("/migrations/dry-run")
@allow("administrator")
def dry_run() -> tuple[str, int]:
    query = MoveQuery.from_args(request.args)
    if query.errors:
        return _form_page(query, 400)
    try:
        report = _migration().migrate(
            query.to, current_user().name, all_cases=query.select == "all",
            from_pack=query.from_pack if query.select == "from" else None,
            case_ids=query.case_ids, dry_run=True)
    except StorageError:
        raise
    except CarepathError as e:  # not installed, or does not pass pack check
        query.error("to", str(e))
        return _form_page(query, 400)
    return _report_page(query, report)


def _report_page(query: MoveQuery, report: MigrationReport) -> tuple[str, int]:
    show = request.args.get("show") or ""
    if show not in STATUSES:
        show = ""
    chosen = [c for c in report.cases if not show or c.status == show]
    pages = max(1, -(-len(chosen) // PER_PAGE))
    page = min(_page_number(request.args.get("page")), pages)
    start = (page - 1) * PER_PAGE
    shown = chosen[start:start + PER_PAGE]
    counts = {s: sum(1 for c in report.cases if c.status == s) for s in STATUSES}
    return render_template(
        "views/admin_dry_run.html", query=query, report=report, cases=shown, show=show,
        page=page, pages=pages, first=start + 1, last=start + len(shown), total=len(chosen),
        counts=counts, args=query.args(), command=query.command(), active_nav="packs"), 200
