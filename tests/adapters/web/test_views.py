"""The web app's pages doing casework, in the Flask test client over a real database: the inbox,
a task's form (errors, drafts, submitting, a stale write), a new referral, actions, assigning,
the case file and the pages for administrators."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from carepath.adapters.app import Services, services_for
from carepath.adapters.db.people import SqlPeopleRepository
from carepath.adapters.web.app import create_app
from carepath.adapters.web.config import WebConfig
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.service.people import PeopleService
from carepath.service.types import Actor

OPERATOR = Actor.operator("admin")
PASSWORD = "a long password"
PEOPLE = {
    "sam": ({"social_worker"}, {"north"}),
    "ola": ({"social_worker"}, {"south"}),
    "tess": ({"team_manager"}, {"north"}),
    "ada": ({"administrator"}, set()),
}
CHILD = {"la_child_id": "C001", "upn_unknown": "UN1", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}


@pytest.fixture
def services(db: Engine) -> Iterator[Services]:
    people = PeopleService(SqlPeopleRepository(db),
                           PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for name, (roles, teams) in PEOPLE.items():
        people.add_user(name, name.title(), PASSWORD, roles, teams)
    with use_clock(FixedClock(datetime(2025, 5, 12, 11, tzinfo=UTC))):
        yield services_for(db)


@pytest.fixture
def app(services: Services) -> Flask:
    app = create_app(services, WebConfig(secret_key="test"))
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests
    return app


def sign_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    r = client.post("/sign-in", data={"username": name, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def h1(html: str) -> str:
    found = re.findall(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert len(found) == 1, found
    return re.sub(r"<[^>]+>", "", found[0]).strip()


def open_case(services: Services, team: str = "north", worker: str | None = "sam") -> int:
    opened = services.cases.open_case("wt2023", CHILD, {"date": "2025-05-12", "source": "2A"},
                                      OPERATOR, worker=worker, team=team)
    return opened.case_id


def first_task(services: Services, case_id: int) -> int:
    return services.cases.tasks()[0].id if case_id else 0


DECISION = {"nfa": "no", "decision_reasons": "Worries about attendance.", "primary_need": "N1",
            "next_step": "assessment"}


def test_the_inbox_lists_my_tasks_and_my_teams(app: Flask, services: Services) -> None:
    case_id = open_case(services)
    sam = sign_in(app, "sam")
    page = sam.get("/tasks").get_data(as_text=True)
    assert h1(page) == "My tasks"
    assert "Decide what happens next with the referral" in page
    assert f'href="/cases/{case_id}"' in page
    ola = sign_in(app, "ola")
    assert "Decide what happens next" not in ola.get("/tasks?scope=team").get_data(as_text=True)
    tess = sign_in(app, "tess")
    team = tess.get("/tasks?scope=team").get_data(as_text=True)
    assert "Decide what happens next" in team and "Assign" in team


def test_signing_in_is_needed_and_wrong_passwords_are_refused(app: Flask) -> None:
    client = app.test_client()
    r = client.get("/tasks")
    assert r.status_code == 302 and "/sign-in" in r.headers["Location"]
    r = client.post("/sign-in", data={"username": "sam", "password": "wrong password"})
    assert r.status_code == 400
    assert "Enter a correct username and password" in r.get_data(as_text=True)
    assert "<title>Error: " in r.get_data(as_text=True)


def test_a_task_form_errors_then_completes_and_says_what_is_next(app: Flask,
                                                                   services: Services) -> None:
    case_id = open_case(services)
    task_id = first_task(services, case_id)
    sam = sign_in(app, "sam")
    page = sam.get(f"/tasks/{task_id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version is not None
    r = sam.post(f"/tasks/{task_id}", data={"version": version.group(1)})
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert "There is a problem" in body and "<title>Error: " in body
    r = sam.post(f"/tasks/{task_id}", data={**DECISION, "version": version.group(1)})
    assert r.status_code == 302, r.get_data(as_text=True)
    done = sam.get(r.headers["Location"]).get_data(as_text=True)
    assert h1(done) == "Task complete"
    assert "Start the child and family assessment" in done
    assert services.cases.task(task_id).status == "completed"


def test_a_stale_submit_keeps_the_answers_and_changes_nothing(app: Flask,
                                                              services: Services) -> None:
    case_id = open_case(services)
    task_id = first_task(services, case_id)
    sam = sign_in(app, "sam")
    stale = services.cases.head(case_id).version
    services.cases.change_worker(case_id, "sam", OPERATOR)  # someone else writes meanwhile
    r = sam.post(f"/tasks/{task_id}", data={**DECISION, "version": str(stale)})
    assert r.status_code == 409
    body = r.get_data(as_text=True)
    assert "This case changed since you opened it" in body
    assert "Worries about attendance." in body
    assert services.cases.task(task_id).status == "ready"


def test_a_draft_is_kept_and_comes_back(app: Flask, services: Services) -> None:
    case_id = open_case(services)
    task_id = first_task(services, case_id)
    sam = sign_in(app, "sam")
    r = sam.post(f"/tasks/{task_id}", data={"decision_reasons": "Half written",
                                            "_save_draft": "1"})
    assert r.status_code == 302
    page = sam.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Half written" in page and "saved draft" in page
    assert services.cases.task(task_id).status == "ready"


def test_a_worker_records_a_referral(app: Flask, services: Services) -> None:
    sam = sign_in(app, "sam")
    page = sam.get("/cases/new").get_data(as_text=True)
    assert h1(page) == "Record a referral"
    form = {"pack": "wt2023", "la_child_id": "N777", "upn_unknown": "UN1",
            "birth_date-day": "1", "birth_date-month": "6", "birth_date-year": "2015",
            "sex": "M", "ethnicity": "WBRI", "disabilities": "NONE",
            "date-day": "12", "date-month": "5", "date-year": "2025", "source": "2A"}
    r = sam.post("/cases/new", data={**form, "date-month": "13"})
    assert r.status_code == 400
    r = sam.post("/cases/new", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    head = services.cases.find_case("N777", OPERATOR)
    assert head.worker == "sam" and head.team == "north"


def test_actions_from_the_case_file(app: Flask, services: Services) -> None:
    case_id = open_case(services)
    # actions wait for the referral decision (the primary need)
    services.cases.complete_task(first_task(services, case_id), {**DECISION, "nfa": False},
                                 OPERATOR)
    sam = sign_in(app, "sam")
    page = sam.get(f"/cases/{case_id}").get_data(as_text=True)
    assert h1(page) == "Case file: C001"
    assert "Hold a strategy discussion" in page
    assert "<svg" in page and "Chronology" in page
    version = services.cases.head(case_id).version
    r = sam.post(f"/cases/{case_id}/actions/start_section47", data={"version": str(version)})
    assert r.status_code == 302
    titles = [t.title for t in services.cases.tasks()]
    assert "Record the strategy discussion" in titles
    # a social worker is not offered the manager's actions
    assert sam.get(f"/cases/{case_id}/actions/close_case").status_code == 302


def test_a_manager_assigns_and_changes_the_worker(app: Flask, services: Services) -> None:
    case_id = open_case(services, worker=None)
    task_id = first_task(services, case_id)
    tess = sign_in(app, "tess")
    r = tess.post(f"/tasks/{task_id}/assign", data={"assignee": "sam"})
    assert r.status_code == 302
    assert services.cases.task(task_id).assignee == "sam"
    r = tess.post(f"/tasks/{task_id}/assign", data={"assignee": "ola"})  # not in the team
    assert r.status_code == 200 and "Select who the task is for" in r.get_data(as_text=True)
    assert sign_in(app, "sam").get(f"/tasks/{task_id}/assign").status_code == 403


def test_cases_of_another_team_are_not_found(app: Flask, services: Services) -> None:
    case_id = open_case(services)
    ola = sign_in(app, "ola")
    assert ola.get(f"/cases/{case_id}").status_code == 404
    assert ola.get(f"/tasks/{first_task(services, case_id)}").status_code == 404
    assert ola.get("/cases?child=C001").status_code == 400
    kinds = [h.kind for h in services.cases.history(case_id)]
    assert "case.viewed" not in kinds
    sign_in(app, "sam").get(f"/cases/{case_id}")
    assert "case.viewed" in [h.kind for h in services.cases.history(case_id)]


def test_why_is_this_due_then(app: Flask, services: Services) -> None:
    case_id = open_case(services)
    page = sign_in(app, "sam").get(f"/tasks/{first_task(services, case_id)}/due")
    text = page.get_data(as_text=True)
    assert h1(text) == "Why is this due then?"
    assert "1 working day" in text or "working day" in text


def test_administrators_see_the_packs(app: Flask) -> None:
    ada = sign_in(app, "ada")
    assert h1(ada.get("/admin/packs").get_data(as_text=True)) == "Process packs"
    pack = ada.get("/admin/packs/wt2023").get_data(as_text=True)
    assert "Processes" in pack
    assert "<svg" in ada.get("/admin/packs/wt2023/processes/section47").get_data(as_text=True)
    form = ada.get("/admin/packs/wt2023/forms/referral_decision").get_data(as_text=True)
    assert "Preview" in form and "disabled" in form
    r = ada.post("/admin/packs/wt2023/check")
    assert r.status_code == 302
    assert "Passes" in ada.get("/admin/packs/wt2023").get_data(as_text=True)
    assert sign_in(app, "sam").get("/admin/packs").status_code == 403
    assert ada.get("/admin/packs/nope").status_code == 404


ASSESSMENT = {"child_development": "Meeting milestones.", "parenting_capacity": "Caring.",
              "family_environment": "Privately rented flat.", "childs_voice": "Likes school.",
              "child_seen_alone": True, "family_views": "Wants help.",
              "analysis": "Needs are met with support."}


def _ready(services: Services, title: str) -> int:
    return next(t.id for t in services.cases.tasks() if t.title.startswith(title))


def test_a_manager_returns_an_assessment_then_authorises_it(app: Flask,
                                                            services: Services) -> None:
    case_id = open_case(services)
    cases = services.cases
    cases.complete_task(first_task(services, case_id),
                        {**DECISION, "nfa": False}, OPERATOR)
    cases.complete_task(_ready(services, "Start the child and family assessment"),
                        {"started": "2025-05-12", "plan_for_assessment": "Visit."}, OPERATOR)
    cases.complete_task(_ready(services, "Complete the child and family assessment"),
                        ASSESSMENT, OPERATOR)
    tess = sign_in(app, "tess")
    inbox = tess.get("/tasks?scope=team").get_data(as_text=True)
    assert "Authorise the child and family assessment" in inbox
    sign_off = _ready(services, "Authorise")
    version = cases.head(case_id).version
    r = tess.post(f"/tasks/{sign_off}", data={"authorisation": "return", "version": version,
                                              "return_reason": "Add the school's view."})
    assert r.status_code == 302, r.get_data(as_text=True)
    # the worker's task is open again, with their answers and the manager's reason
    again = _ready(services, "Complete the child and family assessment")
    page = sign_in(app, "sam").get(f"/tasks/{again}").get_data(as_text=True)
    assert "returned to you" in page and "Add the school&#39;s view." in page
    assert "Privately rented flat." in page
    cases.complete_task(again, ASSESSMENT, OPERATOR)
    sign_off = _ready(services, "Authorise")
    r = tess.post(f"/tasks/{sign_off}", data={
        "authorisation": "authorise", "version": cases.head(case_id).version,
        "authorised-day": "12", "authorised-month": "5", "authorised-year": "2025",
        "factors": ["3B"], "assessment_next": "cin_plan"})
    assert r.status_code == 302, r.get_data(as_text=True)
    record = cases.case_view(case_id).record
    assert record["episodes"][0]["assessments"][0]["authorised"] == "2025-05-12"  # type: ignore[index,call-overload]
    chronology = [e for e in cases.chronology(case_id, OPERATOR)
                  if e.summary.startswith("Completed: Authorise")]
    assert len(chronology) == 2 and chronology[0].actor == "tess"
