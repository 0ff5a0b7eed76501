"""The OpenAPI document matches the routes: every /api/v1 route (path and method) is in it and
everything in it is a route; it is valid OpenAPI 3.1; every API route takes a bearer token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from carepath.adapters.app import services_for
from carepath.adapters.db.database import dispose_engine, make_engine, upgrade
from carepath.adapters.web.app import create_app
from carepath.adapters.web.config import WebConfig
from carepath.adapters.web.security import ANYONE, TOKEN, permission_of

from .api_helpers import DOC, PREFIX, template_of

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'carepath.db'}"
    engine = make_engine(url)
    upgrade(engine)  # the services read the council's pinned pack versions
    yield create_app(services_for(engine), WebConfig(secret_key="test"))
    dispose_engine(url)


def api_routes(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        for method in rule.methods or ():
            if method.lower() in METHODS:
                found.add((template_of(rule.rule), method.lower()))
    return found


def documented() -> set[tuple[str, str]]:
    return {(path, method) for path, item in DOC["paths"].items() for method in item
            if method in METHODS}


def test_every_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    routes = api_routes(app)
    assert routes, "no API routes found"
    assert sorted(routes - documented()) == [], "routes missing from the OpenAPI document"
    assert sorted(documented() - routes) == [], "the OpenAPI document names no such route"


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"] == "3.1.0"
    validate(DOC, cls=OpenAPIV31SpecValidator)  # raises on the first problem


def test_the_validator_finds_a_broken_document() -> None:
    broken = {**DOC, "paths": {**DOC["paths"], "/me": {"get": {"responses": "none"}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)


def test_every_path_parameter_is_declared() -> None:
    for path, item in DOC["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", ())
                        if p["in"] == "path"}
            assert declared == names, (path, method)


def test_every_api_route_takes_a_token_but_the_document(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            who = permission_of(app, rule.endpoint)
            expected = {ANYONE} if rule.rule == PREFIX + "/openapi.json" else {TOKEN}
            assert who == expected, rule.rule
    for path, item in DOC["paths"].items():
        for operation in item.values():
            if path == "/openapi.json":
                assert operation["security"] == []
            else:
                assert "security" not in operation  # the document's bearerAuth
                assert "401" in operation["responses"], path


def test_the_served_document_is_this_one(app: Flask) -> None:
    response = app.test_client().get(PREFIX + "/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == DOC


def test_the_schemas_refuse_a_wrong_body() -> None:
    """The API tests check bodies against these schemas: that check must be able to fail."""
    validator = Draft202012Validator({"$ref": "#/components/schemas/TaskPage",
                                      "components": DOC["components"]})
    good = {"tasks": [], "total": 0, "page": 1, "per_page": 25, "pages": 1}
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "total": "0"})
    assert not validator.is_valid({**good, "tasks": [{"id": 1}]})
    assert not validator.is_valid({**good, "extra": 1})


def test_the_docs_list_every_endpoint() -> None:
    text = (Path(__file__).parents[3] / "docs" / "api.md").read_text(encoding="utf-8")
    for path, method in documented():
        assert f"{method.upper()} {PREFIX}{path}" in text, (method, path)
