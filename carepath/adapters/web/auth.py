"""Signing in and out, the signed-in person on every request, and the idle timeout."""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers.response import Response as BaseResponse

from carepath.core.errors import AuthenticationError, LoginThrottledError, NotFoundError
from carepath.service.types import Actor, User

from .context import services
from .security import ANYONE, SIGNED_IN, TOKEN, allow, permission_of

bp = Blueprint("auth", __name__)


def current_user() -> User:
    user = getattr(g, "user", None)
    if user is None:  # a view declared ANYONE but asked who is signed in
        abort(401)
    return cast(User, user)


def current_actor() -> Actor:
    return current_user().actor()


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an address elsewhere (open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _sign_in_again(reason: str | None = None) -> BaseResponse:
    session.clear()
    args: dict[str, Any] = {}
    if reason:
        args["reason"] = reason
    if request.method == "GET" and request.path not in ("/", url_for("auth.sign_in")):
        args["next"] = request.full_path.rstrip("?")
    return redirect(url_for("auth.sign_in", **args))


def load_person(app: Flask) -> BaseResponse | None:
    """Run before every request: who is asking, and may they use this route at all?"""
    allowed = permission_of(app, request.endpoint)
    if allowed is None:
        if request.endpoint is None:  # no such route: the 404 handler answers
            return None
        app.logger.error("route %s declares no permission: refused", request.endpoint)
        abort(403)
    if ANYONE in allowed:
        g.user = _session_user(touch=False)
        return None
    if TOKEN in allowed:
        from .api_auth import bearer_user

        g.user = bearer_user()
        return None
    user = _session_user(touch=True)
    if user is None:
        timed_out = session.get("timed_out")
        return _sign_in_again("timeout" if timed_out else None)
    g.user = user
    if SIGNED_IN not in allowed and not (allowed & user.roles):
        abort(403)
    return None


def _session_user(touch: bool) -> User | None:
    name = session.get("user")
    if not isinstance(name, str):
        return None
    seen = session.get("seen")
    idle = current_app.config["CAREPATH"].idle_minutes * 60
    now = int(time.time())
    if not isinstance(seen, int) or now - seen > idle:
        session.clear()
        session["timed_out"] = True
        return None
    try:
        user = services().people.user(name)
    except NotFoundError:
        session.clear()
        return None
    if not user.active:
        session.clear()
        return None
    if touch:
        session["seen"] = now
    return user


@bp.route("/sign-in", methods=["GET", "POST"])
@allow(ANYONE)
def sign_in() -> BaseResponse | tuple[str, int]:
    errors: list[dict[str, str]] = []
    username = ""
    reason = request.args.get("reason")
    if request.method == "POST":
        username = request.form.get("username", "").strip().lower()
        password = request.form.get("password", "")
        if not username:
            errors.append({"text": "Enter your username", "href": "#username"})
        if not password:
            errors.append({"text": "Enter your password", "href": "#password"})
        if not errors:
            try:
                user = services().people.authenticate(username, password,
                                                      source=request.remote_addr or "")
            except LoginThrottledError as e:
                minutes = max(1, (e.retry_after + 59) // 60)
                errors.append({"text": "You have tried to sign in too many times. Try again "
                                       f"in {minutes} minute{'s' if minutes != 1 else ''}",
                               "href": "#username"})
            except AuthenticationError:
                errors.append({"text": "Enter a correct username and password",
                               "href": "#username"})
            else:
                session.clear()
                session["user"] = user.name
                session["seen"] = int(time.time())
                target = _safe_next(request.args.get("next")) or url_for("inbox.inbox")
                return redirect(target)
    status = 200 if not errors else 400
    return render_template("views/sign_in.html", errors=errors, username=username,
                           reason=reason), status


@bp.route("/sign-out", methods=["POST"])
@allow(SIGNED_IN)
def sign_out() -> BaseResponse:
    session.clear()
    return redirect(url_for("auth.sign_in", reason="signed_out"))
