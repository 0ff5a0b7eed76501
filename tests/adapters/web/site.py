"""A web app over a real database with people in two teams, and clients that sign in as a browser
does (CSRF on): shared by the page checks and the permission tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import lxml.html
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from carepath.adapters.app import Services, services_for
from carepath.adapters.db.people import SqlPeopleRepository
from carepath.adapters.packs import PackRegistry
from carepath.adapters.web.app import create_app
from carepath.adapters.web.config import WebConfig
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.service.people import PeopleService
from carepath.service.types import Actor

OPERATOR = Actor.operator("admin")
PASSWORD = "a long password"
PEOPLE = {
    "sam": ({"social_worker"}, {"north"}),
    "sue": ({"social_worker"}, {"north"}),
    "ola": ({"social_worker"}, {"south"}),
    "tess": ({"team_manager"}, {"north"}),
    "chris": ({"conference_chair"}, {"north", "south"}),
    "ada": ({"administrator"}, set()),
}
NOW = datetime(2025, 5, 12, 11, tzinfo=UTC)
# Made-up identifiers that must never reach a log line.
CHILD = {"la_child_id": "QX7731", "upn": "D938201711001", "birth_date": "2015-06-01",
         "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]}
DECISION = {"nfa": "no", "decision_reasons": "Zanzibar-worry-note about attendance.",
            "primary_need": "N1", "next_step": "assessment"}


def make_services(db: Engine, registry: PackRegistry | None = None) -> Iterator[Services]:
    people = PeopleService(SqlPeopleRepository(db),
                           PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for name, (roles, teams) in PEOPLE.items():
        people.add_user(name, name.title(), PASSWORD, roles, teams)
    with use_clock(FixedClock(NOW)):
        yield services_for(db, registry)


def make_app(services: Services, **config: Any) -> Flask:
    """The app as served: CSRF on."""
    return create_app(services, WebConfig(secret_key="test", **config))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no csrf_token on the page"
    return found.group(1)


def sign_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    token = csrf_of(client.get("/sign-in").get_data(as_text=True))
    r = client.post("/sign-in", data={"username": name, "password": PASSWORD,
                                      "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def open_case(services: Services, team: str = "north", worker: str | None = "sam",
              child: dict[str, Any] | None = None) -> int:
    opened = services.cases.open_case("wt2023", child or CHILD,
                                      {"date": "2025-05-12", "source": "2A"},
                                      OPERATOR, worker=worker, team=team)
    return opened.case_id


def open_task(services: Services, case_id: int) -> int:
    return next(t.id for t in services.cases.tasks() if t.case_id == case_id
                and t.status == "ready")


def form_data(html: str, form_index: int = -1) -> dict[str, str]:
    """What a browser sends for a form on the page as it stands (single values)."""
    form = lxml.html.fromstring(html).xpath("//main//form")[form_index]
    return {k: v for k, v in form.form_values()}
