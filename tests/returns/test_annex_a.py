"""Ofsted Annex A lists 3 to 7: columns, values, dates, periods, and the command."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import Engine

from carepath.adapters.cli.returns import returns
from carepath.engine.record.case_record import (
    Assessment,
    CaseRecord,
    Child,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
    story_to_record,
)
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.returns import CaseData, ReturnError
from carepath.returns.annex_a import (
    age_in_years,
    default_period,
    months_before,
    write_annex_a,
)

from . import STORIES, load_story, store_record

D = date
CHILD = ["Child Unique ID", "Sex", "Ethnicity", "Date of Birth", "Age of Child (Years)"]
TEAM = ["Allocated Team", "Allocated Worker"]
# The columns of annex_a.md (liia-tools' Annex A schema), with the 2026 change: Sex for Gender.
EXPECTED_COLUMNS = {
    "List 3": CHILD + ["Date of referral", "Referral Source", "Referral NFA?",
                       "Number of Referrals in Last 12 Months"] + TEAM,
    "List 4": CHILD + ["Does the Child have a Disability", "Continuous Assessment Start Date",
                       "Child Seen During Continuous Assessment",
                       "Continuous Assessment Date of Authorisation",
                       "Was the child assessed as requiring LA children's social care support?"]
    + TEAM,
    "List 5": CHILD + ["Does the Child have a Disability",
                       "Strategy discussion initiating Section 47 Enquiry Start Date",
                       "Was an Initial Child Protection Conference deemed unnecessary?",
                       "Date of Initial Child Protection Conference",
                       "Did the Initial Child Protection Conference Result in a Child Protection "
                       "Plan",
                       "Number of Section 47 Enquiries in the last 12 months",
                       "Number of ICPCs in the last 12 months"] + TEAM,
    "List 6": CHILD + ["Does the Child have a Disability", "CIN Start Date", "Primary Need Code",
                       "Date Child Was Last Seen", "CIN Closure Date", "Reason for Closure",
                       "Case Status"] + TEAM,
    "List 7": CHILD + ["Does the Child have a Disability", "Child Protection Plan Start Date",
                       "Initial Category of Abuse", "Latest Category of Abuse",
                       "Date of the Last Statutory Visit", "Was the Child Seen Alone?",
                       "Date of latest review conference", "Child Protection Plan End Date",
                       "Subject to Emergency Protection Order or Protected Under Police Powers in "
                       "Last Six Months (Y/N)", "Number of Previous Child Protection Plans"] + TEAM,
}
WHOLE_YEAR = (D(2025, 4, 1), D(2026, 3, 31))
EPO = ("Subject to Emergency Protection Order or Protected Under Police Powers in Last Six Months "
       "(Y/N)")


def story_cases() -> list[CaseData]:
    return [CaseData(i, story_to_record(load_story(p)).child.la_child_id, f"Worker {i}",
                     f"Team {i % 2}", story_to_record(load_story(p)))
            for i, p in enumerate(STORIES, start=1)]


def rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Each sheet as a list of {column: value}, checking every date cell's format on the way."""
    workbook = load_workbook(path)
    sheets: dict[str, list[dict[str, Any]]] = {}
    for ws in workbook.worksheets:
        header = [c.value for c in ws[1]]
        sheet = []
        for row in ws.iter_rows(min_row=2):
            values = {}
            for title, cell in zip(header, row, strict=True):
                value = cell.value
                if isinstance(value, datetime):
                    assert cell.number_format == "dd/mm/yyyy", (ws.title, title)
                    value = value.date()
                values[title] = value
            sheet.append(values)
        sheets[ws.title] = sheet
    return sheets


@pytest.fixture
def whole_year(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    path = tmp_path / "annex_a.xlsx"
    summary = write_annex_a(story_cases(), path, *WHOLE_YEAR)
    got = rows(path)
    assert summary.rows == {name: len(sheet) for name, sheet in got.items()}
    return got


def test_sheets_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "annex_a.xlsx"
    write_annex_a(story_cases(), path, *WHOLE_YEAR)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["List 3", "List 4", "List 5", "List 6", "List 7"]
    for name, columns in EXPECTED_COLUMNS.items():
        assert [c.value for c in workbook[name][1]] == columns, name
    assert [len(c) for c in EXPECTED_COLUMNS.values()] == [11, 12, 14, 14, 17]


def test_list_3_referrals(whole_year: dict[str, list[dict[str, Any]]]) -> None:
    referrals = whole_year["List 3"]
    # every referral of the year: one per story, the second episode of two_episodes, not the
    # 2023 one of cp_reviews, both of re_referral
    assert len(referrals) == 22
    nfa = next(r for r in referrals if r["Child Unique ID"] == "C0101")
    assert nfa == {
        "Child Unique ID": "C0101", "Sex": "a) Male", "Ethnicity": "a) WBRI",
        "Date of Birth": D(2016, 3, 14), "Age of Child (Years)": 10,
        "Date of referral": D(2025, 6, 16), "Referral Source": "b) 1B: Individual",
        "Referral NFA?": "Yes", "Number of Referrals in Last 12 Months": 0,
        "Allocated Team": nfa["Allocated Team"], "Allocated Worker": nfa["Allocated Worker"],
    }
    assert nfa["Allocated Worker"].startswith("Worker ")
    second = [r for r in referrals if r["Child Unique ID"] == "C0106"]
    assert [r["Number of Referrals in Last 12 Months"] for r in second] == [0, 1]
    unborn = next(r for r in referrals if r["Child Unique ID"] == "C0107")
    assert unborn["Date of Birth"] is None and unborn["Age of Child (Years)"] is None
    assert unborn["Sex"] == "c) Not stated/recorded"
    assert unborn["Ethnicity"] == "t) NOBT"


def test_list_4_assessments(whole_year: dict[str, list[dict[str, Any]]]) -> None:
    by_child = {r["Child Unique ID"]: r for r in whole_year["List 4"]
                if r["Continuous Assessment Start Date"] >= D(2025, 4, 1)}
    closed = by_child["C0102"]  # factor 21, closed RC8
    assert closed["Continuous Assessment Date of Authorisation"] == D(2025, 6, 13)
    assert closed["Was the child assessed as requiring LA children's social care support?"] == "No"
    assert closed["Does the Child have a Disability"] == "No"
    assert closed["Child Seen During Continuous Assessment"] is None  # not in the record
    plan = by_child["C0103"]
    assert plan["Was the child assessed as requiring LA children's social care support?"] == "Yes"
    open_one = [r for r in whole_year["List 4"] if r["Child Unique ID"] == "C0106"][-1]
    assert open_one["Continuous Assessment Date of Authorisation"] is None
    assert open_one["Was the child assessed as requiring LA children's social care support?"] \
        is None
    assert by_child["C0110"]["Does the Child have a Disability"] == "Yes"


def test_list_5_section_47(whole_year: dict[str, list[dict[str, Any]]]) -> None:
    enquiries = {r["Child Unique ID"]: r for r in whole_year["List 5"]}
    assert set(enquiries) == {"C0104", "C0105", "C0108", "C0109", "C0111", "C0114"}
    christmas = enquiries["C0104"]
    assert christmas["Strategy discussion initiating Section 47 Enquiry Start Date"] \
        == D(2025, 12, 12)
    assert christmas["Was an Initial Child Protection Conference deemed unnecessary?"] == "No"
    assert christmas["Date of Initial Child Protection Conference"] == D(2026, 1, 6)
    assert christmas["Did the Initial Child Protection Conference Result in a Child Protection "
                     "Plan"] == "Yes"
    no_icpc = enquiries["C0105"]
    assert no_icpc["Was an Initial Child Protection Conference deemed unnecessary?"] == "Yes"
    assert no_icpc["Date of Initial Child Protection Conference"] is None
    assert no_icpc["Did the Initial Child Protection Conference Result in a Child Protection "
                   "Plan"] is None
    # C0109's first enquiry was in 2023: not within the 12 months before the second
    assert enquiries["C0109"]["Number of Section 47 Enquiries in the last 12 months"] == 0
    assert enquiries["C0109"]["Number of ICPCs in the last 12 months"] == 0


def test_list_6_children_in_need(whole_year: dict[str, list[dict[str, Any]]]) -> None:
    episodes = whole_year["List 6"]
    ids = [r["Child Unique ID"] for r in episodes]
    assert "C0101" not in ids  # a referral with no further action is not a child in need
    assert ids.count("C0106") == 2
    status = {(r["Child Unique ID"], r["CIN Start Date"]): r["Case Status"] for r in episodes}
    assert status[("C0104", D(2025, 12, 10))] == "b) Child Protection plan"
    assert status[("C0105", D(2025, 9, 8))] == "c) Child in need plan"
    assert status[("C0106", D(2026, 2, 23))] == "d) Open assessment"
    assert status[("C0103", D(2025, 4, 14))] == "e) Closed episode"
    assert status[("C0108", D(2025, 4, 7))] == "c) Child in need plan"  # stepped down in January
    closed = next(r for r in episodes if r["Child Unique ID"] == "C0110")
    assert closed["CIN Closure Date"] == D(2026, 2, 13)
    assert closed["Reason for Closure"] == "f) Transfer to Adult Social Services"
    assert closed["Primary Need Code"] == "b) Child's disability"
    assert closed["Date Child Was Last Seen"] is None  # not in the record


def test_list_7_child_protection(whole_year: dict[str, list[dict[str, Any]]]) -> None:
    plans = {r["Child Unique ID"]: r for r in whole_year["List 7"]}
    assert set(plans) == {"C0104", "C0108", "C0109", "C0114"}
    step_down = plans["C0108"]
    assert step_down["Child Protection Plan Start Date"] == D(2025, 4, 29)
    assert step_down["Initial Category of Abuse"] == "b) Physical Abuse"
    assert step_down["Latest Category of Abuse"] == "d) Emotional Abuse"
    assert step_down["Date of latest review conference"] == D(2026, 1, 20)
    assert step_down["Child Protection Plan End Date"] == D(2026, 1, 20)
    assert plans["C0109"]["Number of Previous Child Protection Plans"] == 1
    assert plans["C0104"]["Number of Previous Child Protection Plans"] == 0
    for missing in ("Date of the Last Statutory Visit", "Was the Child Seen Alone?"):
        assert plans["C0104"][missing] is None
    # no emergency protection order or police protection recorded
    assert plans["C0104"][EPO] == "No"


def test_a_period_leaves_out_what_had_not_happened(tmp_path: Path) -> None:
    record = CaseRecord(
        Child("P1", upn_unknown="UN2", birth_date=D(2014, 6, 30), sex="F", ethnicity="BAFR",
              disabilities=[]),
        [Episode(referral_date=D(2025, 9, 1), referral_source="5D", primary_need="N1",
                 assessments=[Assessment(D(2025, 9, 2), D(2025, 10, 20), ["1B"])],
                 s47s=[Section47(D(2025, 9, 3), icpc_date=D(2025, 9, 24))],
                 cp_plans=[CPPlan(D(2025, 9, 24), "MUL", "NEG", [D(2025, 12, 18)],
                                  D(2026, 3, 5))],
                 cin_plans=[CINPlan(D(2026, 3, 5))])])
    path = tmp_path / "a.xlsx"
    write_annex_a([CaseData(1, "P1", None, None, record)], path, D(2025, 6, 1), D(2025, 9, 30))
    got = rows(path)
    [referral] = got["List 3"]
    assert referral["Referral Source"] == "p1) 5D: LA services"
    assert referral["Age of Child (Years)"] == 11  # on 30 September 2025
    assert referral["Allocated Worker"] == "Unallocated"
    assert referral["Allocated Team"] == "Unallocated"
    [assessment] = got["List 4"]
    assert assessment["Continuous Assessment Date of Authorisation"] is None  # 20 October
    assert assessment["Does the Child have a Disability"] == "Unknown"
    [plan] = got["List 7"]
    assert plan["Date of latest review conference"] is None
    assert plan["Child Protection Plan End Date"] is None
    assert plan["Initial Category of Abuse"] == "e) Multiple"
    [episode] = got["List 6"]
    assert episode["Case Status"] == "b) Child Protection plan"
    assert got["List 5"][0]["Number of ICPCs in the last 12 months"] == 0


def test_default_period_is_six_months_to_today(tmp_path: Path) -> None:
    assert months_before(D(2026, 8, 31), 6) == D(2026, 2, 28)
    assert months_before(D(2026, 3, 31), 6) == D(2025, 9, 30)
    with use_clock(FixedClock(datetime(2026, 3, 31, 12, tzinfo=UTC))):
        assert default_period() == (D(2025, 9, 30), D(2026, 3, 31))
        summary = write_annex_a(story_cases(), tmp_path / "a.xlsx")
    assert (summary.start, summary.end) == (D(2025, 9, 30), D(2026, 3, 31))
    # referrals from 30 September 2025: C0104 (December), C0106's second, C0107 (January),
    # C0115 (October)
    assert summary.rows["List 3"] == 4


def test_ages() -> None:
    assert age_in_years(D(2012, 3, 1), D(2026, 2, 28)) == 13
    assert age_in_years(D(2012, 3, 1), D(2026, 3, 1)) == 14
    assert age_in_years(None, D(2026, 3, 1)) is None


def test_bad_period(tmp_path: Path) -> None:
    with pytest.raises(ReturnError, match="start before it ends"):
        write_annex_a([], tmp_path / "a.xlsx", D(2026, 3, 1), D(2026, 2, 1))


# -- the command ------------------------------------------------------------------------------


def test_command_writes_the_workbook(db: Engine, db_url: str, tmp_path: Path) -> None:
    for path in STORIES:
        store_record(db, story_to_record(load_story(path)), worker="A Worker", team="Team East")
    out = tmp_path / "out" / "annex_a.xlsx"
    out.parent.mkdir()
    result = CliRunner().invoke(returns, ["annex-a", "--out", str(out), "--start", "2025-04-01",
                                          "--end", "2026-03-31", "--council", "E09000001", "--db",
                                          db_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "List 3 (referrals): 22 row(s)" in result.stdout
    assert "List 8 (children looked after): 5 row(s)" in result.stdout
    got = rows(out)
    assert len(got["List 3"]) == 22
    assert {r["Allocated Team"] for sheet in got.values() for r in sheet
            if "Allocated Team" in r} == {"Team East"}
    assert [p.name for p in out.parent.iterdir()] == ["annex_a.xlsx"]  # no temporary file left

    result = CliRunner().invoke(returns, ["annex-a", "--out", str(out), "--end", "2026-03-31",
                                          "--council", "E09000001", "--db", db_url, "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["start"], data["end"]) == ("2025-09-30", "2026-03-31")
    assert data["rows"]["List 3"] == 4


def test_command_rejects_a_bad_date(db_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(returns, ["annex-a", "--out", str(tmp_path / "a.xlsx"),
                                          "--start", "1 April", "--db", db_url])
    assert result.exit_code == 2
    assert "is not a date" in result.stderr


# -- every column the schema needs is filled ---------------------------------------------------


def test_required_columns_are_filled_for_a_simulated_caseload(tmp_path: Path) -> None:
    """Lists 3 to 7 for 600 simulated children, for the whole year and for its last six
    months: no column the Annex A schema needs is blank (liia-tools flags a blank there)."""
    from carepath.engine.simulation.generator import generate_stories
    from carepath.returns.annex_a import REQUIRED

    cases = [CaseData(i, s["child"]["la_child_id"], "Worker" if i % 3 else None,
                      "Team A" if i % 4 else None, story_to_record(s))
             for i, s in enumerate(generate_stories(600, 11, 2026))]
    for period in (WHOLE_YEAR, (D(2025, 9, 30), D(2026, 3, 31))):
        path = tmp_path / "a.xlsx"
        summary = write_annex_a(cases, path, *period)
        assert summary.missing == []
        got = rows(path)
        for name, sheet in got.items():
            assert sheet, name  # every list has rows to check
            for row in sheet:
                blank = [c for c in REQUIRED[name] if row[c] is None or row[c] == ""]
                assert blank == [], (name, row["Child Unique ID"], blank)
        statuses = {r["Case Status"] for r in got["List 6"]}
        assert statuses <= {"b) Child Protection plan", "c) Child in need plan",
                            "d) Open assessment", "e) Closed episode"}
        assert {r[EPO] for r in got["List 7"]} == {"No"}  # the simulator has none


def protected_child(days: list[date], closure: date | None = None) -> CaseRecord:
    return CaseRecord(
        Child("E1", upn_unknown="UN1", birth_date=D(2022, 1, 10), sex="F", ethnicity="WBRI",
              disabilities=["NONE"]),
        [Episode(referral_date=D(2025, 5, 1), referral_source="6", primary_need="N1",
                 emergency_protection=days,
                 s47s=[Section47(D(2025, 5, 1), icpc_date=D(2025, 5, 20))],
                 cp_plans=[CPPlan(D(2025, 5, 20), "NEG", "NEG")],
                 closure_date=closure, closure_reason="RC7" if closure else None)])


@pytest.mark.parametrize(("days", "expected"), [
    ([], "No"),
    ([D(2025, 5, 1)], "No"),  # more than six months before the end (31 March 2026)
    ([D(2025, 9, 30)], "Yes"),  # six months before the end, to the day
    ([D(2025, 5, 1), D(2026, 1, 5)], "Yes"),
])
def test_emergency_protection_in_the_last_six_months(tmp_path: Path, days: list[date],
                                                     expected: str) -> None:
    path = tmp_path / "a.xlsx"
    write_annex_a([CaseData(1, "E1", "W", "T", protected_child(days))], path, *WHOLE_YEAR)
    [plan] = rows(path)["List 7"]
    assert plan[EPO] == expected


def test_case_status_and_need_of_open_episodes_between_steps(tmp_path: Path) -> None:
    person = Child("S1", upn_unknown="UN1", birth_date=D(2020, 1, 1), sex="M", ethnicity="WBRI",
                   disabilities=["NONE"])
    records = [
        # the referral of 31 March awaits its decision
        CaseRecord(person, [Episode(referral_date=D(2026, 3, 31), referral_source="2A")]),
        # the assessment is done, the plan has not started
        CaseRecord(replace(person, la_child_id="S2"), [Episode(
            referral_date=D(2026, 1, 5), referral_source="2A", primary_need="N4",
            assessments=[Assessment(D(2026, 1, 6), D(2026, 3, 20), ["4B"])])]),
        # the plan ended, the closure is not recorded yet
        CaseRecord(replace(person, la_child_id="S3"), [Episode(
            referral_date=D(2025, 6, 2), referral_source="2A", primary_need="N4",
            assessments=[Assessment(D(2025, 6, 3), D(2025, 7, 10), ["4B"])],
            cin_plans=[CINPlan(D(2025, 7, 14), D(2026, 3, 27))])]),
    ]
    path = tmp_path / "a.xlsx"
    summary = write_annex_a([CaseData(i, r.child.la_child_id, "W", "T", r)
                             for i, r in enumerate(records)], path, *WHOLE_YEAR)
    assert summary.missing == []
    got = {r["Child Unique ID"]: r for r in rows(path)["List 6"]}
    assert got["S1"]["Case Status"] == "d) Open assessment"
    assert got["S1"]["Primary Need Code"] == "j) Not stated"
    assert got["S2"]["Case Status"] == "d) Open assessment"
    assert got["S3"]["Case Status"] == "c) Child in need plan"


def test_a_column_the_record_cannot_fill_is_listed(tmp_path: Path) -> None:
    record = protected_child([])
    record.child.ethnicity = None
    record.episodes[0].cp_plans[0].initial_category = None
    summary = write_annex_a([CaseData(1, "E1", "W", "T", record)], tmp_path / "a.xlsx",
                            *WHOLE_YEAR)
    assert {str(m) for m in summary.missing} == {
        "List 3, E1: Ethnicity", "List 5, E1: Ethnicity", "List 6, E1: Ethnicity",
        "List 7, E1: Ethnicity", "List 7, E1: Initial Category of Abuse"}
