"""The JSON API over a real database (SQLite, and PostgreSQL when the tests have one): tokens,
the inbox, tasks and their forms, completing with a version, actions, opening a case, what may
not be seen, and problems as application/problem+json. Every answer is checked against the
OpenAPI document (api_helpers.Api)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import text

from carepath.adapters.app import Services, services_for
from carepath.adapters.db.database import dispose_engine, make_engine, upgrade
from carepath.adapters.db.people import SqlPeopleRepository
from carepath.adapters.web.app import create_app
from carepath.adapters.web.config import WebConfig
from carepath.service.people import PeopleService
from carepath.service.types import Actor

from .api_helpers import Api

OPERATOR = Actor.operator("admin")
PEOPLE = {  # name: (roles, teams)
    "sam": ({"social_worker"}, {"north"}),
    "tess": ({"team_manager"}, {"north"}),
    "ola": ({"social_worker"}, {"south"}),
    "ada": ({"administrator"}, set()),
}
DECISION = {"nfa": False, "decision_reasons": "Worries about attendance.",
            "primary_need": "N1", "next_step": "assessment"}
STARTED = {"started": "2025-05-13", "plan_for_assessment": "Visit the family this week."}
SECRET = "Zebedee-Quixote-4471"  # a value that must never come back in an error or a log


def child(n: int) -> dict[str, object]:
    return {"la_child_id": f"C{n:03d}", "upn_unknown": "UN1", "birth_date": "2015-06-01",
            "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]}


REFERRAL = {"date": "2025-05-12", "source": "2A"}


@dataclass
class World:
    app: Flask
    services: Services
    tokens: dict[str, str]
    seen: int = 0  # next child number

    def api(self, name: str | None) -> Api:
        return Api(self.app, self.tokens[name] if name else None)

    def open(self, team: str | None, worker: str | None) -> tuple[int, int]:
        """A new case (as an operator): its id and its first task's id."""
        self.seen += 1
        opened = self.services.cases.open_case("wt2023", child(self.seen), REFERRAL, OPERATOR,
                                               worker=worker, team=team)
        return opened.case_id, opened.open_tasks[0].id

    def open_decided(self) -> tuple[int, int]:
        """A case of sam's past the referral decision (actions are available): its id and the
        task to start the assessment."""
        case_id, task_id = self.open("north", "sam")
        done = self.services.cases.complete_task(task_id, DECISION, OPERATOR)
        return case_id, done.opened[0].id

    def version(self, case_id: int) -> int:
        return self.services.cases.head(case_id).version


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'carepath.db'}"
    else:
        from tests.conftest import _with_search_path

        admin = request.getfixturevalue("postgres_admin")
        schema = f"t_{uuid.uuid4().hex[:16]}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _with_search_path(request.getfixturevalue("postgres_url"), schema)
    engine = make_engine(url)
    upgrade(engine)
    services = replace(services_for(engine), people=PeopleService(SqlPeopleRepository(engine), PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1)))
    tokens = {}
    for name, (roles, teams) in PEOPLE.items():
        services.people.add_user(name, name.title(), "a long password", roles, teams)
        tokens[name] = services.people.create_token(name)
    app = create_app(services, WebConfig(secret_key="test"))
    yield World(app, services, tokens)
    dispose_engine(url)
    if schema is not None:
        with request.getfixturevalue("postgres_admin").begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def problem_of(response: object) -> dict[str, object]:
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    body = json.loads(response.get_data(as_text=True))  # type: ignore[attr-defined]
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == response.status_code  # type: ignore[attr-defined]
    return dict(body)


# -- who is asking ---------------------------------------------------------------------------

def test_the_openapi_document_needs_no_token(world: World) -> None:
    response = world.api(None).get("/openapi.json")
    assert response.status_code == 200 and response.json["openapi"] == "3.1.0"


def test_me_needs_a_valid_bearer_token(world: World) -> None:
    me = world.api("sam").get("/me")
    assert me.status_code == 200
    assert me.json == {"name": "sam", "display_name": "Sam", "roles": ["social_worker"],
                       "teams": ["north"], "active": True}
    for api, headers in ((world.api(None), {}),
                         (Api(world.app, "not-a-token"), {}),
                         (world.api(None), {"Authorization": "Basic c2FtOnB3"})):
        refused = api.get("/me", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "token" in str(problem_of(refused)["detail"])


def test_a_session_cookie_is_not_a_token(world: World) -> None:
    client = world.app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    signed_in = client.post("/sign-in", data={"username": "sam", "password": "a long password",
                                              "csrf_token": token.group(1)})
    assert signed_in.status_code == 302 and "/sign-in" not in signed_in.headers["Location"]
    assert client.get("/api/v1/me").status_code == 401


def test_unknown_routes_and_methods_are_problems_too(world: World) -> None:
    client = world.app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens['sam']}"}
    for response in (client.get("/api/v1/nothing", headers=headers),
                     client.get("/api/v1/tasks/1/complete", headers=headers)):
        assert response.status_code in (404, 405)
        problem_of(response)


# -- the inbox and tasks ---------------------------------------------------------------------

def test_the_inbox_mine_and_team_paged_and_filtered(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    sam, tess = world.api("sam"), world.api("tess")
    mine = sam.get("/tasks").json
    assert task_id in [t["id"] for t in mine["tasks"]]
    assert mine["page"] == 1 and mine["per_page"] == 25 and mine["total"] >= 1
    team = tess.get("/tasks?scope=team&per_page=1&page=1").json
    assert team["per_page"] == 1 and len(team["tasks"]) == 1 and team["total"] >= 1
    child_id = world.services.cases.head(case_id).la_child_id
    only = sam.get(f"/tasks?child={child_id}&stage=referral&worker=sam").json
    assert [t["id"] for t in only["tasks"]] == [task_id]
    assert only["tasks"][0]["due_this_week"] in (True, False)
    assert world.api("ola").get("/tasks?scope=team").json["total"] == 0


@pytest.mark.parametrize(("query", "field"), [("page=0", "page"), ("page=x", "page"),
                                              ("per_page=500", "per_page"),
                                              ("scope=everyone", "scope")])
def test_a_bad_inbox_query_is_400_naming_the_parameter(world: World, query: str,
                                                       field: str) -> None:
    response = world.api("sam").get(f"/tasks?{query}")
    assert response.status_code == 400
    assert [e["field"] for e in problem_of(response)["errors"]] == [field]  # type: ignore


def test_a_task_with_its_form_schema_and_version(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    response = world.api("sam").get(f"/tasks/{task_id}")
    assert response.status_code == 200
    body = response.json
    assert body["task"]["id"] == task_id and body["task"]["case_id"] == case_id
    assert body["version"] == world.version(case_id)
    assert response.headers["ETag"] == f'"{body["version"]}"'
    fields = {f["name"]: f for f in body["form"]["fields"]}
    assert fields["nfa"]["type"] == "yesno" and fields["nfa"]["required"] is True
    assert fields["primary_need"]["show_if"] == "not nfa"
    assert fields["primary_need"]["options"] and fields["primary_need"]["codelist"]
    assert {"value", "label"} == set(fields["primary_need"]["options"][0])
    assert fields["closure_date"]["type"] == "date"


def test_why_a_task_is_due(world: World) -> None:
    _, task_id = world.open("north", "sam")
    body = world.api("sam").get(f"/tasks/{task_id}/due").json
    assert body["task_id"] == task_id and body["due"]
    assert body["explanation"]["due"] == body["due"] and body["explanation"]["text"]


# -- completing a task -----------------------------------------------------------------------

def test_completing_a_task_with_if_match(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    sam = world.api("sam")
    etag = sam.get(f"/tasks/{task_id}").headers["ETag"]
    done = sam.post(f"/tasks/{task_id}/complete", {"values": DECISION},
                    headers={"If-Match": etag})
    assert done.status_code == 200
    assert done.json["completed"] == task_id
    assert [t["form"] for t in done.json["opened"]] == ["assessment_start"]
    assert world.version(case_id) > int(etag.strip('"'))
    again = sam.post(f"/tasks/{task_id}/complete",
                     {"values": DECISION, "version": world.version(case_id)})
    assert again.status_code == 409 and "already" in str(problem_of(again)["detail"])


def test_completing_with_the_version_in_the_body_and_iso_dates(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    closing = {"nfa": True, "decision_reasons": "No worries.", "closure_date": "2025-05-12",
               "closure_reason": "RC8"}
    done = world.api("sam").post(f"/tasks/{task_id}/complete",
                                 {"values": closing, "version": world.version(case_id)})
    assert done.status_code == 200, done.json


def test_no_version_is_428_and_nothing_is_written(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    before = world.version(case_id)
    response = world.api("sam").post(f"/tasks/{task_id}/complete", {"values": DECISION})
    assert response.status_code == 428
    assert "If-Match" in str(problem_of(response)["detail"])
    assert world.version(case_id) == before


@pytest.mark.parametrize("header", ["12", '"x"', "*", '"1", "2"'])
def test_an_if_match_not_a_version_is_400(world: World, header: str) -> None:
    _, task_id = world.open("north", "sam")
    response = world.api("sam").post(f"/tasks/{task_id}/complete", {"values": DECISION},
                                     headers={"If-Match": header})
    assert response.status_code == 400
    problem_of(response)


def test_if_match_and_version_must_agree(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    v = world.version(case_id)
    response = world.api("sam").post(f"/tasks/{task_id}/complete",
                                     {"values": DECISION, "version": v + 1},
                                     headers={"If-Match": f'"{v}"'})
    assert response.status_code == 400


def test_form_errors_are_422_by_field_without_the_values(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    case_id, task_id = world.open("north", "sam")
    sam = world.api("sam")
    caplog.set_level(logging.DEBUG)
    response = sam.post(f"/tasks/{task_id}/complete",
                        {"values": {"nfa": SECRET, "primary_need": SECRET,
                                    "next_step": "assessment"},
                         "version": world.version(case_id)})
    assert response.status_code == 422
    body = problem_of(response)
    fields = {e["field"] for e in body["errors"]}  # type: ignore[union-attr]
    assert {"nfa", "decision_reasons"} <= fields
    assert all(e["message"] for e in body["errors"])  # type: ignore[union-attr]
    assert SECRET not in response.get_data(as_text=True)
    assert SECRET not in caplog.text
    assert world.services.cases.task(task_id).status == "ready"


def test_a_stale_write_from_a_second_client_is_409_with_the_version_now(
        world: World) -> None:
    case_id, task_id = world.open_decided()
    first, second = world.api("sam"), world.api("sam")
    seen = first.get(f"/tasks/{task_id}").headers["ETag"]
    assert second.get(f"/tasks/{task_id}").headers["ETag"] == seen
    taken = first.post(f"/cases/{case_id}/actions/start_section47", None,
                       headers={"If-Match": seen})
    assert taken.status_code == 200
    stale = second.post(f"/tasks/{task_id}/complete", {"values": STARTED},
                        headers={"If-Match": seen})
    assert stale.status_code == 409
    body = problem_of(stale)
    assert "This case changed since you read it" in str(body["detail"])
    assert body["version"] == world.version(case_id) and body["case_id"] == case_id
    assert world.services.cases.task(task_id).status == "ready"
    fresh = second.post(f"/tasks/{task_id}/complete", {"values": STARTED},
                        headers={"If-Match": f'"{body["version"]}"'})
    assert fresh.status_code == 200


@pytest.mark.parametrize(("data", "content_type", "status"), [
    ("values=1", "application/x-www-form-urlencoded", 415),
    ('{"values": {}}', "text/plain", 415),
    ("{not json", "application/json", 400),
    ("[1, 2]", "application/json", 400),
    ('{"values": NaN}', "application/json", 400),
    ('{"values": []}', "application/json", 400),
    ('{"valeus": {}}', "application/json", 400),
    ("", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
])
def test_a_body_that_is_not_the_right_json(world: World, data: str | bytes,
                                           content_type: str, status: int) -> None:
    case_id, task_id = world.open("north", "sam")
    response = world.api("sam").post(f"/tasks/{task_id}/complete", None, data=data,
                                     content_type=content_type,
                                     headers={"If-Match": f'"{world.version(case_id)}"'})
    assert response.status_code == status
    problem_of(response)


def test_a_task_for_another_role_is_403(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    response = world.api("tess").post(f"/tasks/{task_id}/complete",
                                      {"values": DECISION, "version": world.version(case_id)})
    assert response.status_code == 403
    assert "role" in str(problem_of(response)["detail"])


def test_claiming_a_team_task(world: World) -> None:
    _, task_id = world.open("north", None)
    claimed = world.api("sam").post(f"/tasks/{task_id}/claim")
    assert claimed.status_code == 200 and claimed.json["assignee"] == "sam"
    assert world.api("tess").post(f"/tasks/{task_id}/claim").status_code == 403


# -- cases -----------------------------------------------------------------------------------

def test_a_case_with_its_etag_and_the_view_audited(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    response = world.api("sam").get(f"/cases/{case_id}")
    assert response.status_code == 200
    body = response.json
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert body["case_id"] == case_id and body["record"]["child"]["la_child_id"]
    assert [t["id"] for t in body["open_tasks"]] == [task_id]
    last = world.services.cases.history(case_id)[-1]
    assert (last.kind, last.actor) == ("case.viewed", "sam")


def test_the_etag_round_trip_through_an_action(world: World) -> None:
    case_id, _ = world.open_decided()
    sam = world.api("sam")
    etag = sam.get(f"/cases/{case_id}").headers["ETag"]
    listed = sam.get(f"/cases/{case_id}/actions")
    assert listed.headers["ETag"] == etag
    names = [a["name"] for a in listed.json["actions"]]
    assert "start_section47" in names
    taken = sam.post(f"/cases/{case_id}/actions/start_section47", {"data": {}},
                     headers={"If-Match": etag})
    assert taken.status_code == 200 and taken.json["action"] == "start_section47"
    assert taken.json["opened"]
    replay = sam.post(f"/cases/{case_id}/actions/start_assessment", None,
                      headers={"If-Match": etag})
    assert replay.status_code == 409 and problem_of(replay)["version"] == world.version(case_id)
    assert sam.get(f"/cases/{case_id}").headers["ETag"] == f'"{world.version(case_id)}"'


def test_an_action_unknown_or_without_a_version(world: World) -> None:
    case_id, _ = world.open("north", "sam")
    sam = world.api("sam")
    assert sam.post(f"/cases/{case_id}/actions/start_section47").status_code == 428
    unknown = sam.post(f"/cases/{case_id}/actions/fly",
                       {"version": world.version(case_id)})
    assert unknown.status_code == 404
    problem_of(unknown)


def test_the_chronology_filtered(world: World) -> None:
    case_id, _ = world.open("north", "sam")
    sam = world.api("sam")
    every = sam.get(f"/cases/{case_id}/chronology?show=all").json
    assert every["show"] == "all" and every["entries"]
    significant = sam.get(f"/cases/{case_id}/chronology?show=significant").json
    assert all(e["significant"] for e in significant["entries"])
    assert sam.get(f"/cases/{case_id}/chronology").json["show"] is None
    bad = sam.get(f"/cases/{case_id}/chronology?show=gossip")
    assert bad.status_code == 400
    problem_of(bad)


def test_a_case_the_user_may_not_see_is_404_everywhere_as_one_that_does_not_exist(
        world: World) -> None:
    south, south_task = world.open("south", "ola")
    restricted, restricted_task = world.open("north", "sam")
    world.services.cases.restrict(restricted, ["tess"], OPERATOR)
    sam = world.api("sam")
    version = world.version(south)
    for case_id, task_id in ((south, south_task), (restricted, restricted_task),
                             (99999, 99999)):
        for response in (sam.get(f"/cases/{case_id}"),
                         sam.get(f"/cases/{case_id}/chronology"),
                         sam.get(f"/cases/{case_id}/actions"),
                         sam.post(f"/cases/{case_id}/actions/start_section47",
                                  {"version": version}),
                         sam.get(f"/tasks/{task_id}"), sam.get(f"/tasks/{task_id}/due"),
                         sam.post(f"/tasks/{task_id}/claim"),
                         sam.post(f"/tasks/{task_id}/complete",
                                  {"values": DECISION, "version": version})):
            assert response.status_code == 404
            detail = str(problem_of(response)["detail"])
            assert detail in (f"There is no case {case_id}", f"There is no task {task_id}")
    assert world.services.cases.task(south_task).status == "ready"
    assert world.version(south) == version
    assert world.api("tess").get(f"/cases/{restricted}").status_code == 200


def test_opening_a_case(world: World) -> None:
    sam = world.api("sam")
    body = {"pack": "wt2023", "child": child(900), "referral": REFERRAL}
    opened = sam.post("/cases", body)
    assert opened.status_code == 201
    case_id = opened.json["case_id"]
    assert opened.headers["Location"].endswith(f"/api/v1/cases/{case_id}")
    assert opened.json["open_tasks"][0]["assignee"] == "sam"
    head = world.services.cases.head(case_id)
    assert (head.team, head.worker) == ("north", "sam")
    assert sam.get(f"/cases/{case_id}").status_code == 200


def test_opening_a_case_refused(world: World) -> None:
    sam = world.api("sam")
    assert world.api("ada").post("/cases", {"pack": "wt2023", "child": child(901),
                                            "referral": REFERRAL}).status_code == 403
    bad = sam.post("/cases", {"pack": "nope", "child": {**child(902), "sex": SECRET},
                              "referral": {}, "team": "south"})
    assert bad.status_code == 422
    body = problem_of(bad)
    fields = {e["field"] for e in body["errors"]}  # type: ignore[union-attr]
    assert {"pack", "team"} <= fields
    assert SECRET not in bad.get_data(as_text=True)
    invalid = sam.post("/cases", {"pack": "wt2023", "child": {**child(903), "sex": "Q"},
                                  "referral": {"source": "2A"}})
    assert invalid.status_code == 422
    fields = {e["field"] for e in problem_of(invalid)["errors"]}  # type: ignore[union-attr]
    assert {"child.sex", "referral.date"} <= fields
    assert sam.post("/cases", {"pack": "wt2023"}).status_code == 400


def test_a_referral_for_a_child_whose_case_is_hidden_writes_nothing(world: World) -> None:
    south, _ = world.open("south", "ola")
    la_child_id = world.services.cases.head(south).la_child_id
    version = world.version(south)
    refused = world.api("sam").post("/cases", {
        "pack": "wt2023", "child": {**child(0), "la_child_id": la_child_id},
        "referral": REFERRAL})
    assert refused.status_code == 403
    assert str(south) not in str(problem_of(refused)["detail"])
    assert world.version(south) == version


def test_errors_in_the_api_never_render_html(world: World) -> None:
    response = world.app.test_client().post("/api/v1/cases", data="x",
                                            content_type="text/plain")
    assert response.status_code == 401
    problem_of(response)


WEIRD = [None, True, 1.5, -3, "", "x" * 5000, [], [None], {}, {"a": [{"b": None}]},
         [{"when": {}}], "2025-02-30"]


def test_odd_answers_are_422_or_accepted_never_a_crash(world: World) -> None:
    """Each question given each odd JSON value: refused by field or taken, never a 500."""
    sam = world.api("sam")
    _, task_id = world.open("north", "sam")
    fields = [f["name"] for f in sam.get(f"/tasks/{task_id}").json["form"]["fields"]]
    case_id = world.services.cases.task(task_id).case_id
    for name in [*fields, "not_a_question"]:
        for value in WEIRD:
            response = sam.post(f"/tasks/{task_id}/complete",
                                {"values": {**DECISION, "nfa": True, name: value},
                                 "version": world.version(case_id)})
            assert response.status_code in (200, 422), (name, value)
            if response.status_code == 200:  # a task completed: take the next one
                _, task_id = world.open("north", "sam")
                case_id = world.services.cases.task(task_id).case_id


def test_deeply_nested_json_is_400(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    deep = '{"values": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = world.api("sam").post(f"/tasks/{task_id}/complete", None, data=deep,
                                     content_type="application/json",
                                     headers={"If-Match": f'"{world.version(case_id)}"'})
    assert response.status_code == 400


def test_json_nested_too_deep_is_400_even_when_it_parses(world: World) -> None:
    case_id, task_id = world.open("north", "sam")
    deep = '{"values": {"visits": ' + "[" * 200 + "]" * 200 + "}}"
    response = world.api("sam").post(f"/tasks/{task_id}/complete", None, data=deep,
                                     content_type="application/json",
                                     headers={"If-Match": f'"{world.version(case_id)}"'})
    assert response.status_code == 400 and "deep" in str(problem_of(response)["detail"])


def test_odd_referrals_are_422_or_recorded_never_a_crash(world: World) -> None:
    sam = world.api("sam")
    n = 1000
    for part, names in (("child", [*child(0), "x"]), ("referral", [*REFERRAL, "x"])):
        for name in names:
            for value in WEIRD:
                n += 1
                body = {"pack": "wt2023", "child": child(n), "referral": dict(REFERRAL)}
                body[part][name] = value  # type: ignore[index]
                response = sam.post("/cases", body)
                assert response.status_code in (201, 422), (part, name, value)
