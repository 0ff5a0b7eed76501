"""Every route declares who may use it: a walk over the URL map. Signed out, every route but the
public ones sends you to sign in; roles keep their pages; the JSON API wants a bearer token."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import Rule

from carepath.adapters.app import Services
from carepath.adapters.web.security import ANYONE, SIGNED_IN, TOKEN, permission_of

from .site import make_app, sign_in

# Only SQLite: the routes do not depend on the database.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def app(services: Services) -> Flask:
    app = make_app(services)
    app.config["WTF_CSRF_ENABLED"] = False  # what is checked here is who gets past the door
    return app


def example_url(rule: Rule) -> str:
    """The rule with made-up arguments (a case or task that does not exist)."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]  # noqa: SLF001 - no public way to ask a rule's types
        values[name] = 1 if type(converter).__name__ in ("IntegerConverter",) else "x"
    url = rule.build(values, append_unknown=False)
    assert url is not None
    return url[1]


def rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: r.rule)


def method_of(rule: Rule) -> str:
    methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
    return "GET" if "GET" in methods else sorted(methods)[0]


def test_every_route_declares_who_may_use_it(app: Flask) -> None:
    missing = [f"{r.rule} ({r.endpoint})" for r in rules(app)
               if permission_of(app, r.endpoint) is None]
    assert not missing, ("routes without an explicit permission (add @allow(...) from "
                         f"carepath/adapters/web/security.py): {missing}")


def test_a_route_without_a_permission_is_refused_and_named(app: Flask) -> None:
    @app.route("/forgotten")
    def forgotten() -> str:
        return "should never be served"

    assert permission_of(app, "forgotten") is None
    r = sign_in(app, "ada").get("/forgotten")
    assert r.status_code == 403
    assert "should never be served" not in r.get_data(as_text=True)


def test_signed_out_every_non_public_route_sends_you_to_sign_in(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in rules(app):
        allowed = permission_of(app, rule.endpoint)
        assert allowed is not None
        if ANYONE in allowed:
            continue
        url, method = example_url(rule), method_of(rule)
        r = client.open(url, method=method)
        if TOKEN in allowed:
            assert r.status_code == 401, f"{method} {url}: {r.status_code}"
            assert r.mimetype == "application/problem+json"
        else:
            assert r.status_code == 302, f"{method} {url}: {r.status_code}"
            assert r.headers["Location"].startswith("/sign-in"), (url, r.headers["Location"])
        checked += 1
    assert checked >= 10  # the walk found the app's pages


def test_role_pages_are_refused_to_other_roles(app: Flask) -> None:
    sam = sign_in(app, "sam")  # a social worker
    refused = []
    for rule in rules(app):
        allowed = permission_of(app, rule.endpoint) or frozenset()
        if allowed & {ANYONE, SIGNED_IN, TOKEN, "social_worker"}:
            continue
        url, method = example_url(rule), method_of(rule)
        r = sam.open(url, method=method)
        assert r.status_code == 403, f"{method} {url} gave a social worker {r.status_code}"
        assert "You cannot see this page" in r.get_data(as_text=True)
        refused.append(rule.endpoint)
    assert {"admin.packs", "admin.pack", "admin.check", "admin.process",
            "admin.form", "moves.versions", "moves.pin", "moves.diff", "moves.move_cases",
            "moves.dry_run"} <= set(refused)
    ada = sign_in(app, "ada")  # an administrator cannot record a referral
    assert ada.get("/cases/new").status_code == 403
    assert ada.get("/admin/packs").status_code == 200
    assert ada.get("/admin/pack-versions").status_code == 200
    assert ada.get("/admin/migrations").status_code == 200


def test_the_api_wants_a_bearer_token(app: Flask) -> None:
    client = app.test_client()
    sam = sign_in(app, "sam")  # a browser session is not a token
    api = [r for r in rules(app) if r.rule.startswith("/api/")]
    assert api, "no /api/ routes"
    for rule in api:
        allowed = permission_of(app, rule.endpoint)
        assert allowed is not None
        if ANYONE in allowed:  # the OpenAPI document
            continue
        assert TOKEN in allowed, f"{rule.rule} is under /api/ but does not take a token"
        url, method = example_url(rule), method_of(rule)
        for who in (client, sam):
            r = who.open(url, method=method)
            assert r.status_code == 401, f"{method} {url}: {r.status_code}"
            assert r.mimetype == "application/problem+json"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = client.open(url, method=method, headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401
