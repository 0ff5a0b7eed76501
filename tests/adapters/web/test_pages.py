"""Every page the app serves, as each role finds it by following links: one <h1>, a title that
starts with it, no duplicate ids, forms that post back with a CSRF token, a CSP nonce on every
script and no inline event handlers. Then the security promises: CSRF, cookies, the idle
timeout, login throttling, other teams' cases, two people on one task, nothing personal in the
logs."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from typing import Any
from urllib.parse import urldefrag, urlsplit

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from carepath.adapters.app import Services
from carepath.adapters.web.config import WebConfig
from carepath.adapters.web.security import ANYONE, allow

from .site import (
    CHILD,
    DECISION,
    OPERATOR,
    PASSWORD,
    PEOPLE,
    csrf_of,
    form_data,
    make_app,
    open_case,
    open_task,
    sign_in,
)

FILES = ("/assets/", "/govuk/", "/static/", "/local/")
MAX_PAGES = 400  # per person: a loop in the links fails loudly rather than running forever


def normalise(text: str) -> str:
    return " ".join(text.split())


def check_page(r: TestResponse, where: str) -> Any:
    """The checks every HTML page must pass; returns the parsed page."""
    assert r.mimetype == "text/html", f"{where}: {r.mimetype}"
    html = r.get_data(as_text=True)
    doc = lxml.html.fromstring(html)
    h1s = doc.xpath("//h1")
    assert len(h1s) == 1, f"{where}: {len(h1s)} <h1> elements"
    heading = normalise(h1s[0].text_content())
    assert heading, f"{where}: empty <h1>"
    title = normalise(doc.findtext(".//title") or "")
    shown = title.removeprefix("Error: ")
    assert shown.startswith(heading), f"{where}: title {title!r} does not start with {heading!r}"
    has_errors = bool(doc.xpath("//*[contains(@class, 'govuk-error-summary')]"))
    assert title.startswith("Error: ") == has_errors, (
        f"{where}: title {title!r} and error summary disagree")
    twice = [i for i, n in Counter(doc.xpath("//@id")).items() if n > 1]
    assert not twice, f"{where}: duplicate ids {twice}"
    for form in doc.xpath("//form"):
        action = form.get("action")
        assert action, f"{where}: a form without an action"
        assert urlsplit(action).netloc == "", f"{where}: a form posts elsewhere: {action}"
        if (form.get("method") or "get").lower() == "post":
            tokens = form.xpath(".//input[@type='hidden'][@name='csrf_token']/@value")
            assert len(tokens) == 1 and tokens[0], f"{where}: form {action} has no CSRF token"
    csp = r.headers.get("Content-Security-Policy", "")
    nonce = re.search(r"script-src [^;]*'nonce-([^']+)'", csp)
    assert nonce is not None, f"{where}: no CSP script nonce in {csp!r}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, f"{where}: {csp}"
    for script in doc.xpath("//script"):
        assert script.get("nonce") == nonce.group(1), f"{where}: a <script> without the nonce"
    handlers = [f"<{e.tag} {a}>" for e in doc.iter() if isinstance(e.tag, str)
                for a in e.attrib if a.lower().startswith("on")]
    assert not handlers, f"{where}: inline event handlers {handlers}"
    scripted = doc.xpath("//@href[starts-with(normalize-space(.), 'javascript:')]")
    assert not scripted, f"{where}: javascript: links"
    return doc


def links(doc: Any) -> list[str]:
    found = []
    for href in doc.xpath("//a/@href"):
        url = urldefrag(href)[0]
        if url.startswith("/") and not url.startswith("//") and not url.startswith(FILES):
            found.append(url)
    return found


def crawl(client: FlaskClient, seeds: list[str], who: str) -> dict[str, int]:
    """GET every page reachable from ``seeds`` by links; check each. Returns url -> status."""
    seen: dict[str, int] = {}
    queue = list(seeds)
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        assert len(seen) < MAX_PAGES, f"{who}: more than {MAX_PAGES} pages"
        r = client.get(url)
        seen[url] = r.status_code
        assert r.status_code < 500, f"{who} GET {url}: {r.status_code}"
        if r.status_code in (301, 302, 303):
            queue.append(r.headers["Location"])
            continue
        doc = check_page(r, f"{who} GET {url}")
        queue.extend(u for u in links(doc) if u not in seen)
    return seen


def complete(client: FlaskClient, task_id: int, data: dict[str, str]) -> TestResponse:
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    sent = {**form_data(page), **data}
    return client.post(f"/tasks/{task_id}", data=sent)


def no_upn(la_child_id: str) -> dict[str, Any]:
    child = {k: v for k, v in CHILD.items() if k != "upn"}
    return {**child, "la_child_id": la_child_id, "upn_unknown": "UN1"}


def caseload(services: Services, app: Flask) -> dict[str, int]:
    """Cases in several states: a north case worked through the web app into an assessment and
    an enquiry, an unallocated north case, a south case."""
    north = open_case(services)
    sam = sign_in(app, "sam")
    decided = open_task(services, north)
    r = complete(sam, decided, DECISION)
    assert r.status_code == 302, r.get_data(as_text=True)
    page = sam.get(f"/cases/{north}/actions/start_section47").get_data(as_text=True)
    r = sam.post(f"/cases/{north}/actions/start_section47", data=form_data(page))
    assert r.status_code == 302, r.get_data(as_text=True)
    unallocated = open_case(services, worker=None,
                            child=no_upn("QX7732"))
    south = open_case(services, team="south", worker="ola",
                      child=no_upn("QX7733"))
    return {"north": north, "decided": decided, "unallocated": unallocated, "south": south}


def test_every_page_each_person_can_reach_passes_the_page_checks(app: Flask,
                                                                 services: Services) -> None:
    cases = caseload(services, app)
    anonymous = app.test_client()
    crawl(anonymous, ["/sign-in", "/sign-in?reason=timeout", "/sign-in?reason=signed_out",
                      "/nope", "/tasks"], "signed out")
    reached: dict[str, dict[str, int]] = {}
    for who in PEOPLE:
        client = sign_in(app, who)
        seeds = ["/", "/tasks", "/tasks?scope=team", "/tasks?scope=team&page=2", "/cases",
                 "/cases?child=", "/cases?child=NOT-A-CHILD", "/cases/new", "/admin/packs",
                 f"/cases/{cases['north']}", f"/cases/{cases['north']}?show=significant",
                 f"/cases/{cases['south']}", f"/tasks/{cases['decided']}",
                 f"/tasks/{cases['decided']}/done", "/nope", "/tasks/999999",
                 "/cases/999999"]
        reached[who] = crawl(client, seeds, who)
    sam, ada, ola = reached["sam"], reached["ada"], reached["ola"]
    assert sam[f"/cases/{cases['north']}"] == 200
    assert sam[f"/cases/{cases['south']}"] == 404
    assert ola[f"/cases/{cases['south']}"] == 200
    assert sam["/admin/packs"] == 403 and ada["/admin/packs"] == 200
    assert any(u.startswith("/tasks/") and u.endswith("/due") for u in sam)
    assert any(u.startswith(f"/cases/{cases['north']}/actions/") for u in sam)
    assert any("/forms/" in u for u in ada) and any("/processes/" in u for u in ada)
    assert sum(len(pages) for pages in reached.values()) > 100


def test_pages_after_a_post_pass_the_page_checks(app: Flask, services: Services) -> None:
    case_id = open_case(services)
    task_id = open_task(services, case_id)
    sam = sign_in(app, "sam")
    r = complete(sam, task_id, {"decision_reasons": ""})  # errors
    assert r.status_code == 400
    check_page(r, "task with errors")
    r = sam.post("/cases/new", data={**form_data(sam.get("/cases/new").get_data(as_text=True)),
                                     "birth_date-month": "13"})
    assert r.status_code == 400
    check_page(r, "referral with errors")
    anonymous = app.test_client()
    token = csrf_of(anonymous.get("/sign-in").get_data(as_text=True))
    r = anonymous.post("/sign-in", data={"csrf_token": token, "username": "sam",
                                         "password": "wrong"})
    assert r.status_code == 400
    check_page(r, "sign in with errors")
    r = sam.post(f"/tasks/{task_id}", data={"version": "1"})  # no CSRF token
    assert r.status_code == 400
    check_page(r, "CSRF error")


# -- security -----------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
        app: Flask, services: Services) -> None:
    case_id = open_case(services)
    task_id = open_task(services, case_id)
    sam = sign_in(app, "sam")
    data = form_data(sam.get(f"/tasks/{task_id}").get_data(as_text=True))
    version = services.cases.head(case_id).version
    for sent in ({k: v for k, v in data.items() if k != "csrf_token"} | DECISION,
                 data | DECISION | {"csrf_token": "forged"}):
        r = sam.post(f"/tasks/{task_id}", data=sent)
        assert r.status_code == 400
        body = r.get_data(as_text=True)
        assert "Sorry, your form has expired" in body and "Nothing was saved" in body
        assert "Traceback" not in body
    assert services.cases.task(task_id).status == "ready"
    assert services.cases.head(case_id).version == version
    # and the sign-out button, and a referral
    assert sam.post("/sign-out").status_code == 400
    assert sam.get("/tasks").status_code == 200
    before = len(services.cases.case_ids())
    assert sam.post("/cases/new", data={"la_child_id": "QX9999"}).status_code == 400
    assert len(services.cases.case_ids()) == before


def cookie_header(app: Flask) -> str:
    client = app.test_client()
    token = csrf_of(client.get("/sign-in").get_data(as_text=True))
    r = client.post("/sign-in", data={"username": "sam", "password": PASSWORD,
                                      "csrf_token": token})
    assert r.status_code == 302
    cookies = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("carepath_session=")]
    assert len(cookies) == 1
    return cookies[0]


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_behind_tls(
        app: Flask, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = cookie_header(app)
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    monkeypatch.setenv("CAREPATH_SECURE_COOKIES", "1")
    monkeypatch.setenv("CAREPATH_SECRET_KEY", "from the environment")
    config = WebConfig.from_environment()
    assert config.secure_cookies
    from carepath.adapters.web.app import create_app

    secure = cookie_header(create_app(services, config))
    assert "Secure" in secure and "HttpOnly" in secure and "SameSite=Lax" in secure


def test_the_idle_timeout_signs_you_out(app: Flask, services: Services) -> None:
    assert app.config["CAREPATH"].idle_minutes == 30
    sam = sign_in(app, "sam")
    assert sam.get("/tasks").status_code == 200
    with sam.session_transaction() as session:  # 29 minutes idle: still signed in
        session["seen"] = int(time.time()) - 29 * 60
    assert sam.get("/tasks").status_code == 200
    with sam.session_transaction() as session:  # 31 minutes idle: signed out
        session["seen"] = int(time.time()) - 31 * 60
    r = sam.get("/tasks")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/sign-in?reason=timeout")
    page = sam.get(r.headers["Location"]).get_data(as_text=True)
    assert "You were signed out because you had not done anything for a while" in page
    assert sam.get("/tasks").status_code == 302  # and it stays signed out
    short = make_app(services, idle_minutes=1)
    tess = sign_in(short, "tess")
    with tess.session_transaction() as session:
        session["seen"] = int(time.time()) - 61
    assert tess.get("/tasks").status_code == 302


def test_sign_in_is_throttled_after_five_failures(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/sign-in").get_data(as_text=True))
    for _ in range(5):
        r = client.post("/sign-in", data={"username": "sam", "password": "guess",
                                          "csrf_token": token})
        assert r.status_code == 400
        assert "Enter a correct username and password" in r.get_data(as_text=True)
    r = client.post("/sign-in", data={"username": "sam", "password": PASSWORD,
                                      "csrf_token": token})
    assert r.status_code == 400  # even the right password, for now
    body = r.get_data(as_text=True)
    assert "You have tried to sign in too many times. Try again in" in body
    assert "<title>Error: " in body
    assert client.get("/tasks").status_code == 302  # not signed in


def test_a_worker_in_another_team_cannot_open_the_case_and_no_view_is_recorded(
        app: Flask, services: Services) -> None:
    case_id = open_case(services)
    task_id = open_task(services, case_id)
    ola = sign_in(app, "ola")  # team south
    for url in (f"/cases/{case_id}", f"/tasks/{task_id}", f"/tasks/{task_id}/due",
                f"/tasks/{task_id}/done", f"/cases/{case_id}/actions/start_section47"):
        r = ola.get(url)
        assert r.status_code == 404, f"{url}: {r.status_code}"
        assert CHILD["la_child_id"] not in r.get_data(as_text=True), url
    r = ola.get(f"/cases?child={CHILD['la_child_id']}")  # searching finds nothing either
    assert r.status_code == 400
    assert "No case you can see has that LA child ID" in r.get_data(as_text=True)
    data = form_data(sign_in(app, "sam").get(f"/tasks/{task_id}").get_data(as_text=True))
    r = ola.post(f"/tasks/{task_id}", data=data | DECISION | {
        "csrf_token": csrf_of(ola.get("/tasks").get_data(as_text=True))})
    assert r.status_code == 404
    assert services.cases.task(task_id).status == "ready"
    viewers = [h for h in services.cases.history(case_id) if h.kind == "case.viewed"]
    assert all(h.actor != "ola" for h in viewers)


def test_the_second_of_two_people_submitting_a_task_is_told_and_keeps_their_answers(
        app: Flask, services: Services) -> None:
    case_id = open_case(services, worker=None)  # a team task: either worker may do it
    task_id = open_task(services, case_id)
    sam, sue = sign_in(app, "sam"), sign_in(app, "sue")
    sams = form_data(sam.get(f"/tasks/{task_id}").get_data(as_text=True))
    sues = form_data(sue.get(f"/tasks/{task_id}").get_data(as_text=True))
    assert sams["version"] == sues["version"]
    r = sue.post(f"/tasks/{task_id}", data=sues | DECISION)
    assert r.status_code == 302, r.get_data(as_text=True)
    after = services.cases.head(case_id).version
    events = len(services.cases.history(case_id))
    mine = DECISION | {"decision_reasons": "Sam's own words, typed at the same time."}
    r = sam.post(f"/tasks/{task_id}", data=sams | mine)
    assert r.status_code == 409
    body = r.get_data(as_text=True)
    assert "This case changed since you opened it" in body
    assert "Sam&#39;s own words, typed at the same time." in body or \
        "Sam's own words, typed at the same time." in body
    check_page(r, "the second submit")
    assert services.cases.head(case_id).version == after
    written = [h for h in services.cases.history(case_id)[events:] if h.kind != "case.viewed"]
    assert written == []


def test_no_personal_data_reaches_the_logs(app: Flask, services: Services,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sam = sign_in(app, "sam")
    page = sam.get("/cases/new").get_data(as_text=True)
    child = {"pack": "wt2023", "la_child_id": "QX5150", "upn": "D938201711001",
             "birth_date-day": "1", "birth_date-month": "6", "birth_date-year": "2015",
             "sex": "M", "ethnicity": "WBRI", "disabilities": "NONE",
             "date-day": "12", "date-month": "5", "date-year": "2025", "source": "2A"}
    r = sam.post("/cases/new", data={**form_data(page), **child, "birth_date-month": "13"})
    assert r.status_code == 400
    r = sam.post("/cases/new", data={**form_data(page), **child})
    assert r.status_code == 302, r.get_data(as_text=True)
    head = services.cases.find_case("QX5150", OPERATOR)
    task_id = open_task(services, head.case_id)
    r = complete(sam, task_id, {**DECISION, "primary_need": ""})
    assert r.status_code == 400
    r = complete(sam, task_id, DECISION)
    assert r.status_code == 302
    sam.get(f"/cases/{head.case_id}")
    sam.get("/cases?child=QX5150")
    # a crash on the way: logged by type only
    app.view_functions["health"] = _boom
    r = app.test_client().get("/health?child=QX5150")
    assert r.status_code == 500 and "QX5150" not in r.get_data(as_text=True)
    assert "unhandled RuntimeError" in caplog.text
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in ("QX5150", "D938201711001", DECISION["decision_reasons"], "Zanzibar",
                   PASSWORD, "2015-06-01"):
        assert secret not in logged, f"{secret!r} reached the logs"


@allow(ANYONE)
def _boom() -> str:
    raise RuntimeError("child QX5150 D938201711001 went wrong")
