"""A JSON API client for tests that checks every answer against the OpenAPI document: the
status is documented for the route, the content type is JSON (or problem+json for an error)
and the body matches the schema documented for it."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse

from carepath.adapters.web.openapi import document

DOC = document()
PREFIX = "/api/v1"


def template_of(rule: str) -> str:
    """A Flask rule as an OpenAPI path: /api/v1/tasks/<int:task_id> -> /tasks/{task_id}."""
    out = rule.removeprefix(PREFIX)
    while "<" in out:
        start, end = out.index("<"), out.index(">")
        name = out[start + 1:end].split(":")[-1]
        out = out[:start] + "{" + name + "}" + out[end + 1:]
    return out


def schema_for(template: str, method: str, status: int) -> tuple[str, dict[str, Any]]:
    operation = DOC["paths"][template][method.lower()]
    answer = operation["responses"].get(str(status))
    assert answer is not None, f"{method} {template} answered {status}: not documented"
    if "$ref" in answer:
        answer = DOC["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    ((content_type, media),) = answer["content"].items()
    return content_type, media["schema"]


def check_against_document(app: Flask, method: str, path: str,
                           response: TestResponse) -> None:
    adapter = app.url_map.bind("localhost")
    rule, _ = adapter.match(path.split("?")[0], method=method, return_rule=True)
    content_type, schema = schema_for(template_of(rule.rule), method, response.status_code)
    assert response.mimetype == content_type, (response.status_code, response.mimetype)
    body = json.loads(response.get_data(as_text=True))
    validator = Draft202012Validator({**schema, "components": DOC["components"]},
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body), key=str)
    assert not errors, f"{method} {path} {response.status_code}: {errors[0].message}"


class Api:
    """Calls the API as one token holder (or none)."""

    def __init__(self, app: Flask, token: str | None) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.token = token

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None
             = None, data: str | bytes | None = None, content_type: str | None = None
             ) -> TestResponse:
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        kwargs: dict[str, Any] = {"headers": sent}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = content_type or "application/json"
        elif data is not None:
            kwargs["data"] = data
            if content_type:
                kwargs["content_type"] = content_type
        response = self.client.open(PREFIX + path, method=method, **kwargs)
        check_against_document(self.app, method, PREFIX + path, response)
        return response

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> TestResponse:
        return self.call("POST", path, body, **kw)
