"""Changing the process under live cases from the web app and the JSON API, for administrators:
the pack versions with running instances and pins, pinning, a pack diff, and a dry run of moving
real cases (moves-test 1.0.0 cases waiting at 'check', an ics2010 case) with its report, which
changes nothing. Every page passes the page checks; every API answer matches the OpenAPI
document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask
from sqlalchemy import Engine

from carepath.adapters.app import Services
from carepath.adapters.db.pack_moves import SqlMigrationStore
from carepath.adapters.packs import PackRegistry
from carepath.adapters.web.views import moves
from carepath.service.types import TaskFilter

from .api_helpers import Api
from .site import CHILD, OPERATOR, csrf_of, make_services, sign_in
from .test_pages import check_page

MOVES = Path(__file__).parents[2] / "packs" / "moves"
REFERRAL = {"date": "2025-05-01", "source": "2A"}


@pytest.fixture
def services(db: Engine) -> Iterator[Services]:
    registry = PackRegistry([MOVES / v for v in ("v1", "rename", "remove", "remove_mapped")])
    yield from make_services(db, registry)


def _child(n: int) -> dict[str, Any]:
    child = {k: v for k, v in CHILD.items() if k != "upn"}
    return {**child, "la_child_id": f"MV{n:03d}", "upn_unknown": "UN1"}


def waiting_at_check(services: Services, n: int) -> int:
    """A case of moves-test 1.0.0 that has done 'decide' and waits at 'check'."""
    registry = services.migration.packs
    registry.pin("moves-test", "1.0.0")  # type: ignore[attr-defined]
    try:
        case_id = services.cases.open_case("moves-test", _child(n), REFERRAL, OPERATOR,
                                           worker="sam", team="north").case_id
    finally:
        registry.pin("moves-test", None)  # type: ignore[attr-defined]
    first = services.cases.tasks(TaskFilter(case_id=case_id))
    services.cases.complete_task(first[0].id, {"nfa": True}, OPERATOR)
    return case_id


def r_doc(r: Any) -> Any:
    return lxml.html.fromstring(r.get_data(as_text=True))


def state(services: Services, case_id: int) -> Any:
    head = services.cases.head(case_id)
    tasks = [(t.id, t.bpmn_id, t.title, t.due, t.status)
             for t in services.cases.tasks(TaskFilter(case_id=case_id))]
    return head.pack, head.version, tasks


# -- pages ----------------------------------------------------------------------------------


def test_administrators_see_versions_running_counts_and_pins(app: Flask,
                                                             services: Services) -> None:
    waiting_at_check(services, 1)
    ada = sign_in(app, "ada")
    r = ada.get("/admin/pack-versions")
    assert r.status_code == 200
    doc = check_page(r, "pack versions")
    rows = {" ".join(tr.xpath("td[1]")[0].text_content().split()):
            [" ".join(td.text_content().split()) for td in tr.xpath("td")]
            for tr in doc.xpath("//table//tbody/tr")}
    assert rows["moves-test@1.0.0"][4] == "1"  # one running process instance
    assert rows["moves-test@1.4.0"][4] == "0"
    assert "Current (newest)" in rows["moves-test@1.4.0"][3]
    assert "Compare with 1.4.0" in rows["moves-test@1.0.0"][5]
    assert {"wt2023@1.0.0", "ics2010@1.0.0"} <= set(rows)
    # the packs page leads here
    assert "/admin/pack-versions" in ada.get("/admin/packs").get_data(as_text=True)
    sam = sign_in(app, "sam")
    for url in ("/admin/pack-versions", "/admin/pack-versions/diff?old=a@1&new=b@2",
                "/admin/migrations", "/admin/migrations/dry-run?to=x@1&select=all"):
        assert sam.get(url).status_code == 403, url
    token = csrf_of(sam.get("/tasks").get_data(as_text=True))
    r = sam.post("/admin/pack-versions/pin", data={"csrf_token": token, "pack": "moves-test",
                                                   "version": "1.1.0"})
    assert r.status_code == 403
    assert services.cases.packs.get("moves-test").version == "1.4.0"


def test_pinning_a_version_is_kept_with_who_did_it(app: Flask, services: Services,
                                                   db: Engine) -> None:
    ada = sign_in(app, "ada")
    page = ada.get("/admin/pack-versions").get_data(as_text=True)
    r = ada.post("/admin/pack-versions/pin", data={"csrf_token": csrf_of(page),
                                                   "pack": "moves-test", "version": "1.1.0"})
    assert r.status_code == 302
    r = ada.get("/admin/pack-versions")
    text = check_page(r, "after pinning").text_content()
    assert "New referrals of moves-test now use moves-test@1.1.0 (pinned)." in " ".join(
        text.split())
    # comparing with the current version: the older of the two is always 'old'
    rows = {tr.xpath("td[1]")[0].text_content().strip(): tr.xpath("td[6]//a/@href")
            for tr in r_doc(r).xpath("//table//tbody/tr")}
    assert rows["moves-test@1.0.0"] == [
        "/admin/pack-versions/diff?old=moves-test@1.0.0&new=moves-test@1.1.0"]
    assert rows["moves-test@1.4.0"] == [
        "/admin/pack-versions/diff?old=moves-test@1.1.0&new=moves-test@1.4.0"]
    assert rows["moves-test@1.1.0"] == []
    assert services.cases.packs.get("moves-test").version == "1.1.0"
    assert SqlMigrationStore(db).pins() == {"moves-test": "1.1.0"}
    assert [(v, who) for v, who, _ in SqlMigrationStore(db).pin_history("moves-test")] == [
        ("1.1.0", "ada")]
    # a version not installed: said, nothing changed
    r = ada.post("/admin/pack-versions/pin", data={"csrf_token": csrf_of(page),
                                                   "pack": "moves-test", "version": "9.9.9"})
    assert r.status_code == 302
    shown = " ".join(ada.get("/admin/pack-versions").get_data(as_text=True).split())
    assert "No pack moves-test@9.9.9 is installed" in shown
    assert SqlMigrationStore(db).pins() == {"moves-test": "1.1.0"}
    # no pin: the newest again
    ada.post("/admin/pack-versions/pin", data={"csrf_token": csrf_of(page),
                                               "pack": "moves-test", "version": ""})
    assert services.cases.packs.get("moves-test").version == "1.4.0"
    assert SqlMigrationStore(db).pins() == {}
    # without the CSRF token: refused
    r = ada.post("/admin/pack-versions/pin", data={"pack": "moves-test", "version": "1.1.0"})
    assert r.status_code == 400 and SqlMigrationStore(db).pins() == {}


def test_the_pack_diff_shows_the_changes_and_the_pack_check(app: Flask) -> None:
    ada = sign_in(app, "ada")
    r = ada.get("/admin/pack-versions/diff?old=moves-test@1.0.0&new=moves-test@1.1.0")
    assert r.status_code == 200
    doc = check_page(r, "pack diff")
    text = " ".join(doc.text_content().split())
    assert "Changes from moves-test@1.0.0 to moves-test@1.1.0" in text
    assert "referral.check_again" in text and "referral.check " in text
    assert "Removed" in text and "Added" in text
    assert "Pack check of moves-test@1.1.0" in text and "Passes" in text
    # a version not installed, or none chosen: the versions page with the error
    r = ada.get("/admin/pack-versions/diff?old=moves-test@9.9.9&new=")
    assert r.status_code == 400
    doc = check_page(r, "pack diff with errors")
    summary = " ".join(doc.xpath("//*[contains(@class,'govuk-error-summary')]")[0]
                       .text_content().split())
    assert "No pack moves-test@9.9.9 is installed" in summary
    assert "Choose the new version" in summary


def test_the_move_form_says_what_is_wrong(app: Flask) -> None:
    ada = sign_in(app, "ada")
    r = ada.get("/admin/migrations?to=moves-test@1.4.0")
    doc = check_page(r, "move cases")
    assert doc.xpath("//input[@name='to'][@value='moves-test@1.4.0']/@checked")
    assert "carepath migrate" in doc.text_content()
    cases = [
        ("", ["Choose the pack version to move cases to", "Choose which cases to move"]),
        ("to=moves-test&select=all", ["'moves-test' names no version"]),
        ("to=moves-test@1.4.0&select=from&from=", ["Enter the pack the cases run on now"]),
        ("to=moves-test@1.4.0&select=from&from=ics2010@", ["'ics2010@' is not a pack"]),
        ("to=moves-test@1.4.0&select=cases&case_ids=1,x", ["Enter case ids as whole numbers"]),
        ("to=moves-test@9.9.9&select=all", ["No pack moves-test@9.9.9 is installed"]),
    ]
    for query, messages in cases:
        r = ada.get(f"/admin/migrations/dry-run?{query}")
        assert r.status_code == 400, query
        doc = check_page(r, f"dry run {query}")
        summary = " ".join(doc.xpath("//*[contains(@class,'govuk-error-summary')]")[0]
                           .text_content().split())
        for message in messages:
            assert message in summary, (query, summary)
        for href in doc.xpath("//*[contains(@class,'govuk-error-summary')]//a/@href"):
            assert doc.xpath(f"//*[@id='{href[1:]}']"), f"{query}: {href} goes nowhere"


def test_a_dry_run_reports_every_case_in_pages_and_changes_nothing(
        app: Flask, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [waiting_at_check(services, n) for n in (1, 2, 3)]
    before = [state(services, i) for i in ids]
    monkeypatch.setattr(moves, "PER_PAGE", 2)
    ada = sign_in(app, "ada")
    r = ada.get("/admin/migrations/dry-run?to=moves-test@1.4.0&select=from"
                "&from=moves-test@1.0.0")
    assert r.status_code == 200, r.get_data(as_text=True)
    doc = check_page(r, "dry run report")
    text = " ".join(doc.text_content().split())
    assert "Dry run: moving cases to moves-test@1.4.0" in text
    assert "Nothing was changed" in text
    assert "carepath migrate --to moves-test@1.4.0 --from moves-test@1.0.0" in text
    assert "Showing cases 1 to 2 of 3." in text
    rows = doc.xpath("//table//tbody/tr")
    assert len(rows) == 2
    links = [tr.xpath("td[1]/a/@href")[0] for tr in rows]
    assert links == [f"/cases/{i}" for i in ids[:2]]
    first = " ".join(rows[0].text_content().split())
    assert "Would move" in first and "moved in place" in first
    assert "Check the decision" in first and "An extra look" in first  # before, after
    assert "no deadline" in first
    # the next page, and the filter
    next_href = doc.xpath("//*[contains(@class,'govuk-pagination__next')]//a/@href")[0]
    r = ada.get(next_href)
    doc = check_page(r, "dry run report, page 2")
    assert "Showing cases 3 to 3 of 3." in " ".join(doc.text_content().split())
    assert doc.xpath("//table//tbody/tr/td[1]/a/@href") == [f"/cases/{ids[2]}"]
    # the waited-on task removed without a mapping: refused, with the reason
    r = ada.get(f"/admin/migrations/dry-run?to=moves-test@1.3.0&select=cases"
                f"&case_ids={ids[0]}+{ids[2]}&show=refused")
    doc = check_page(r, "dry run refused")
    text = " ".join(doc.text_content().split())
    assert "Refused" in text and "migrations:" in text
    assert "Showing cases 1 to 2 of 2." in text
    # another pack: the work rebuilt from the record, with the new pack's due dates
    other = services.cases.open_case("ics2010", _child(9), REFERRAL, OPERATOR, worker="sam",
                                     team="north").case_id
    other_before = state(services, other)
    r = ada.get("/admin/migrations/dry-run?to=wt2023@1.0.0&select=from&from=ics2010")
    doc = check_page(r, "dry run replay")
    (row,) = doc.xpath("//table//tbody/tr")
    text = " ".join(row.text_content().split())
    assert "Would move" in text and "rebuilt from the record" in text
    assert row.xpath("td[5]//li") and all("due " in " ".join(li.text_content().split())
                                          for li in row.xpath("td[5]//li"))
    assert [state(services, i) for i in ids] == before
    assert state(services, other) == other_before
    assert services.audit.verify(None).problems == []


# -- the JSON API ---------------------------------------------------------------------------


@pytest.fixture
def tokens(services: Services) -> dict[str, str]:
    return {name: services.people.create_token(name) for name in ("ada", "sam")}


def test_the_api_lists_pack_versions_for_administrators(app: Flask, services: Services,
                                                        tokens: dict[str, str]) -> None:
    waiting_at_check(services, 1)
    services.migration.use("moves-test@1.1.0", "ada")
    r = Api(app, tokens["ada"]).get("/packs")
    assert r.status_code == 200
    found = {(p["name"], p["version"]): p for p in r.json["packs"]}
    assert found[("moves-test", "1.0.0")]["running"] == 1
    assert found[("moves-test", "1.1.0")] == {
        "name": "moves-test", "version": "1.1.0", "title": found[("moves-test", "1.1.0")][
            "title"], "source": found[("moves-test", "1.1.0")]["source"], "current": True,
        "pinned": True, "running": 0}
    assert not found[("moves-test", "1.4.0")]["current"]
    r = Api(app, tokens["sam"]).get("/packs")
    assert r.status_code == 403 and "administrator" in r.json["detail"]
    assert Api(app, None).get("/packs").status_code == 401


def test_the_api_dry_run_answers_the_migrate_report(app: Flask, services: Services,
                                                    tokens: dict[str, str]) -> None:
    ids = [waiting_at_check(services, n) for n in (1, 2)]
    before = [state(services, i) for i in ids]
    api = Api(app, tokens["ada"])
    r = api.post("/migrations/dry-run", {"to": "moves-test@1.4.0", "case_ids": ids})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.json
    assert set(body) == {"run_id", "to", "dry_run", "cases", "moved", "refused"}
    assert (body["run_id"], body["to"], body["dry_run"], body["moved"], body["refused"]) == (
        None, "moves-test@1.4.0", True, 2, 0)
    case = body["cases"][0]
    assert {"case_id", "from", "strategy", "status", "reason", "tasks_before",
            "tasks_after"} <= set(case)
    assert (case["case_id"], case["from"], case["strategy"], case["status"]) == (
        ids[0], "moves-test@1.0.0", "instance", "would_move")
    assert [t["task"] for t in case["tasks_before"]] == ["check"]
    assert [t["task"] for t in case["tasks_after"]] == ["extra"]
    # the same as the service's own report (and so the CLI's --json)
    assert body == services.migration.migrate("moves-test@1.4.0", "x", case_ids=ids,
                                              dry_run=True).as_json()
    r = api.post("/migrations/dry-run", {"to": "moves-test@1.3.0", "from": "moves-test"})
    assert (r.status_code, r.json["moved"], r.json["refused"]) == (200, 0, 2)
    assert "'check'" in r.json["cases"][0]["reason"]
    r = api.post("/migrations/dry-run", {"to": "moves-test@1.4.0", "all": True})
    assert r.status_code == 200 and [c["case_id"] for c in r.json["cases"]] == ids
    assert [state(services, i) for i in ids] == before


def test_the_api_dry_run_moves_an_ics2010_case_to_wt2023_by_replay(
        app: Flask, services: Services, tokens: dict[str, str]) -> None:
    case_id = services.cases.open_case("ics2010", _child(9), REFERRAL, OPERATOR,
                                       worker="sam", team="north").case_id
    before = state(services, case_id)
    r = Api(app, tokens["ada"]).post("/migrations/dry-run",
                                     {"to": "wt2023@1.0.0", "from": "ics2010"})
    assert r.status_code == 200, r.get_data(as_text=True)
    (case,) = r.json["cases"]
    assert (case["case_id"], case["strategy"], case["status"]) == (case_id, "replay",
                                                                   "would_move")
    assert case["tasks_after"] and all(t["due"] for t in case["tasks_after"])
    assert state(services, case_id) == before


def test_the_api_dry_run_refuses_bad_input_with_a_specific_problem(
        app: Flask, services: Services, tokens: dict[str, str]) -> None:
    api = Api(app, tokens["ada"])
    bad: list[tuple[Any, int, str]] = [
        ({"all": True}, 400, "'to'"),
        ({"to": 5, "all": True}, 400, "'to' must be a string"),
        ({"to": "moves-test@1.4.0"}, 400, "exactly one of"),
        ({"to": "moves-test@1.4.0", "all": True, "from": "x"}, 400, "exactly one of"),
        ({"to": "moves-test@1.4.0", "all": False}, 400, "'all' must be true"),
        ({"to": "moves-test@1.4.0", "case_ids": ["1"]}, 400, "list of case ids"),
        ({"to": "moves-test@1.4.0", "case_ids": [True]}, 400, "list of case ids"),
        ({"to": "moves-test@1.4.0", "case_ids": []}, 422, "is empty"),
        ({"to": "moves-test@1.4.0", "from": 3}, 400, "'from' must be a string"),
        ({"to": "moves-test@1.4.0", "from": "moves-test@"}, 422, "is not a pack"),
        ({"to": "moves-test", "all": True}, 422, "names no version"),
        ({"to": "moves-test@9.9.9", "all": True}, 422, "No pack moves-test@9.9.9"),
        ({"to": "moves-test@1.4.0", "all": True, "dry_run": False}, 400, "Unknown member"),
    ]
    for body, status, says in bad:
        r = api.post("/migrations/dry-run", body)
        assert r.status_code == status, (body, r.get_data(as_text=True))
        assert r.mimetype == "application/problem+json"
        assert says in r.json["detail"], (body, r.json["detail"])
        if status == 422:
            assert r.json["errors"][0]["field"] in ("to", "from", "case_ids")
    r = api.post("/migrations/dry-run", data="{", content_type="application/json")
    assert r.status_code == 400
    r = api.post("/migrations/dry-run", data="x", content_type="text/plain")
    assert r.status_code == 415
    r = Api(app, tokens["sam"]).post("/migrations/dry-run",
                                     {"to": "moves-test@1.4.0", "all": True})
    assert r.status_code == 403
    assert json.loads(r.get_data(as_text=True))["status"] == 403
