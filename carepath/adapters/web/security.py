"""Who may use each route, and the headers every response carries.

Every view declares who may use it with :func:`allow`; the app refuses to serve a route that
declares nothing (and ``tests/adapters/web/test_permissions.py`` walks the URL map). The
service checks again what the person may do to a case or task: a route's permission only says
who may reach it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g, request

F = TypeVar("F", bound=Callable[..., Any])

ANYONE = "anyone"  # the sign-in page, assets, health check
SIGNED_IN = "signed_in"  # any signed-in person (the service checks the case and task)
TOKEN = "token"  # the JSON API: a bearer token (the service checks the case and task)
ROLE_PERMISSIONS = ("social_worker", "team_manager", "conference_chair", "administrator")
PERMISSIONS = frozenset({ANYONE, SIGNED_IN, TOKEN, *ROLE_PERMISSIONS})
ATTRIBUTE = "_carepath_allow"
# Flask's own endpoints and the asset routes: files anyone may fetch.
FILE_ENDPOINTS = frozenset({"static", "assets", "govuk", "local_static"})


def allow(*who: str) -> Callable[[F], F]:
    """Declare who may use a view: :data:`ANYONE`, :data:`SIGNED_IN`, :data:`TOKEN` or roles
    (any of them)."""
    unknown = set(who) - PERMISSIONS
    if not who or unknown:
        raise ValueError(f"allow() needs permissions from {sorted(PERMISSIONS)}, got {who}")

    def mark(fn: F) -> F:
        setattr(fn, ATTRIBUTE, frozenset(who))
        return fn

    return mark


def permission_of(app: Flask, endpoint: str | None) -> frozenset[str] | None:
    if endpoint is None:
        return None
    if endpoint in FILE_ENDPOINTS or endpoint.endswith(".static"):
        return frozenset({ANYONE})
    view = app.view_functions.get(endpoint)
    found = getattr(view, ATTRIBUTE, None)
    return found if isinstance(found, frozenset) else None


def csp_nonce() -> str:
    nonce = getattr(g, "csp_nonce", None)
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return str(nonce)


def secure_headers(response: Response) -> Response:
    nonce = csp_nonce()
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint not in FILE_ENDPOINTS:
        # case files are personal data: never kept by the browser or a proxy
        response.headers["Cache-Control"] = "no-store"
    return response
