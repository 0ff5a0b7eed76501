"""The caseworkers' web app: a Flask app factory over the application service.

    app = create_app(open_services(db_url), WebConfig.from_environment())

Views only call :mod:`carepath.service`; they turn requests into service calls and results into
GOV.UK pages. Served by ``carepath serve`` (Werkzeug for one person, gunicorn with
``--workers N`` for a team).
"""

from __future__ import annotations

import logging
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, render_template, request, send_from_directory
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from werkzeug.exceptions import HTTPException

from carepath.adapters.app import Services
from carepath.engine.time.clock import today

from .config import WebConfig
from .security import ANYONE, allow, csp_nonce, secure_headers

log = logging.getLogger("carepath.web")
csrf = CSRFProtect()

ERROR_TITLES = {
    400: "Sorry, there is a problem with what was sent",
    401: "You need to sign in",
    403: "You cannot see this page",
    404: "Page not found",
    405: "Sorry, that cannot be done here",
    409: "This case changed since you opened it",
    413: "What you sent is too large",
    429: "Too many requests",
    500: "Sorry, there is a problem with the service",
}


def _loader(config: WebConfig) -> ChoiceLoader:
    loaders: list[Any] = []
    if config.overrides is not None and (config.overrides / "templates").is_dir():
        loaders.append(FileSystemLoader(str(config.overrides / "templates")))
    loaders.append(PackageLoader("carepath.adapters.web", "templates"))
    loaders.append(PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}))
    return ChoiceLoader(loaders)


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y}"


def _moment(value: datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y} at {value:%H:%M}"


def create_app(services: Services, config: WebConfig) -> Flask:
    app = Flask("carepath.adapters.web", static_folder="static", static_url_path="/static")
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        SESSION_COOKIE_NAME="carepath_session",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the idle timeout ends sessions; a form may take an hour
        CAREPATH=config,
    )
    app.jinja_loader = _loader(config)
    app.jinja_env.undefined = __import__("jinja2").ChainableUndefined
    app.jinja_env.filters["day"] = _day
    app.jinja_env.filters["moment"] = _moment
    app.extensions["carepath"] = services
    csrf.init_app(app)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        logo = None
        if config.overrides is not None and (config.overrides / "static" / "logo.svg").is_file():
            logo = "/local/logo.svg"
        return {"cspNonce": csp_nonce(), "csrf_token": generate_csrf,
                "service_name": config.service_name, "user": getattr(g, "user", None),
                "today": today(), "council_logo": logo,
                "has_frontend": config.govuk_frontend is not None}

    # GOV.UK Frontend from npm: the compiled CSS asks for /assets/fonts and /assets/images.
    frontend = config.govuk_frontend

    @app.route("/assets/<path:filename>", endpoint="assets")
    @allow(ANYONE)
    def assets(filename: str) -> Response:
        if frontend is None:
            return Response("GOV.UK Frontend is not installed (run: npm install)", 404)
        return send_from_directory(frontend / "assets", filename, max_age=86400)

    @app.route("/govuk/<path:filename>", endpoint="govuk")
    @allow(ANYONE)
    def govuk(filename: str) -> Response:
        if frontend is None or filename not in ("govuk-frontend.min.css",
                                                "govuk-frontend.min.js"):
            return Response("Not found", 404)
        return send_from_directory(frontend, filename, max_age=86400)

    overrides_static = (config.overrides / "static") if config.overrides else None

    @app.route("/local/<path:filename>", endpoint="local_static")
    @allow(ANYONE)
    def local_static(filename: str) -> Response:
        if overrides_static is None or not overrides_static.is_dir():
            return Response("Not found", 404)
        return send_from_directory(overrides_static, filename, max_age=3600)

    @app.route("/health", endpoint="health")
    @allow(ANYONE)
    def health() -> Response:
        return Response("ok", mimetype="text/plain")

    from . import auth, views

    app.before_request(lambda: auth.load_person(app))
    app.after_request(secure_headers)
    app.register_blueprint(auth.bp)
    views.register(app)

    @app.errorhandler(CSRFError)
    def _csrf(e: CSRFError) -> tuple[str, int]:
        return render_template("errors/error.html", status=400,
                               title="Sorry, your form has expired",
                               message="Go back, reload the page and try again. Nothing was "
                                       "saved."), 400

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Any:
        status = e.code or 500
        if request.path.startswith("/api/"):
            from .views.api import problem

            return problem(status, e.description or ERROR_TITLES.get(status, "Error"))
        return render_template("errors/error.html", status=status,
                               title=ERROR_TITLES.get(status, "Sorry, there is a problem"),
                               message=None), status

    @app.errorhandler(Exception)
    def _crash(e: Exception) -> Any:
        # where it happened, never the message or local values: they may quote a child's details
        frames = traceback.extract_tb(e.__traceback__)[-5:]
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                            for f in reversed(frames))
        log.error("unhandled %s on %s %s at %s", type(e).__name__, request.method,
                  request.endpoint, where)
        if request.path.startswith("/api/"):
            from .views.api import problem

            return problem(500, "Sorry, there is a problem with the service. Nothing was "
                                "changed.")
        return render_template("errors/error.html", status=500, title=ERROR_TITLES[500],
                               message="Nothing was changed. Try again later."), 500

    return app


def static_folder() -> Path:
    return Path(__file__).parent / "static"
