"""The JSON API under ``/api/v1/`` for vendors' integrations (bearer tokens; errors as
``application/problem+json``; the OpenAPI document at ``/api/v1/openapi.json``)."""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response

from ..app import csrf
from ..security import ANYONE, allow

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PROBLEM_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden",
                  404: "Not found", 405: "Method not allowed", 409: "Conflict",
                  412: "Precondition failed", 415: "Unsupported media type",
                  422: "Unprocessable content", 428: "Precondition required",
                  500: "Internal server error"}


def problem(status: int, detail: str, **extra: object) -> Response:
    body = {"type": "about:blank", "title": PROBLEM_TITLES.get(status, "Error"),
            "status": status, "detail": detail, **extra}
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="carepath"'
    return response


@bp.route("/openapi.json")
@allow(ANYONE)
def openapi() -> Response:
    return Response(json.dumps({"openapi": "3.1.0",
                                "info": {"title": "carepath", "version": "1"},
                                "paths": {}}), mimetype="application/json")


def register(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
