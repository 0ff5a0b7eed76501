"""The CIN census XML: the stories through the real store, the year's boundaries, streaming."""

from __future__ import annotations

import copy
import io
import json
import os
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from carepath.adapters.cli.returns import returns
from carepath.adapters.db.lac_records import LISTS
from carepath.adapters.db.record_stream import iter_cases
from carepath.adapters.db.records import load_record
from carepath.adapters.packs import PackRegistry
from carepath.engine.record.case_record import (
    Assessment,
    CaseRecord,
    Child,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
    record_to_story,
    story_to_record,
)
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.engine.time.working_days import WorkingDayCalendar
from carepath.returns import CaseData, ReturnError
from carepath.returns.cin_census import (
    census_child,
    census_year_bounds,
    child_element,
    write_cin_census,
)
from carepath.returns.validate_cin import validate_cin
from carepath.service.stories import StoryRunner
from tests.casework import Casework as CaseStore

from . import STORIES, census_children, load_story, schema, store_record, story_records

D = date
YEAR = 2026
START, END = D(2025, 4, 1), D(2026, 3, 31)


def census_bytes(cases: Any, year: int = YEAR, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    write_cin_census(cases, year, "201", out, **kwargs)
    return out.getvalue()


def in_year(story: dict[str, Any]) -> dict[str, Any]:
    """The story as the 2025-26 census should hold it: the shipped stories have nothing after
    31 March 2026, so only episodes closed before 1 April 2025, and the assessments of earlier
    years, drop out; the looked-after record is not in the census."""
    kept = copy.deepcopy(story)
    kept["episodes"] = [e for e in kept["episodes"]
                        if "closure" not in e or e["closure"]["date"] >= START]
    for e in kept["episodes"]:  # an episode open since an earlier year: this year's work
        e["assessments"] = [a for a in e.get("assessments", [])
                            if a.get("authorised") is None or a["authorised"] >= START]
        if not e["assessments"]:
            del e["assessments"]
    kept.pop("looked_after", None)  # the 903's, not the census's
    return kept


def without_computed(story: dict[str, Any]) -> dict[str, Any]:
    story = copy.deepcopy(story)
    for e in story["episodes"]:
        for s in e.get("s47", []):
            s.pop("icpc_target", None)
        for p in e.get("cp_plans", []):
            p.pop("previous_plans", None)
    return story


def test_year_bounds() -> None:
    assert census_year_bounds(2026) == (D(2025, 4, 1), D(2026, 3, 31))
    assert census_year_bounds(2025) == (D(2024, 4, 1), D(2025, 3, 31))


# -- every story, stored through the database -------------------------------------------------


def test_every_story_from_the_database(db: Engine, tmp_path: Path) -> None:
    stories = {p.stem: load_story(p) for p in STORIES}
    for story in stories.values():
        store_record(db, story_to_record(story))
    with Session(db) as session:
        xml = census_bytes(iter_cases(session, batch=3))
    assert schema().validate(etree.fromstring(xml)), schema().error_log

    children = census_children(xml)
    assert len(children) == len(stories)
    for name, story in stories.items():
        got = children[story["child"]["la_child_id"]]
        assert without_computed(got) == record_to_story(story_to_record(in_year(story))), name

    # computed items: the ICPC target over bank holidays, and plans before this one
    christmas = children["C0104"]["episodes"][0]["s47"][0]
    assert christmas["icpc_target"] == D(2026, 1, 7)
    easter = children["C0108"]["episodes"][0]["s47"][0]
    assert easter["icpc_target"] == D(2025, 5, 1)
    second_plan = children["C0109"]["episodes"][0]["cp_plans"][0]
    assert second_plan["previous_plans"] == 1  # its first plan's episode closed in 2024
    assert children["C0104"]["episodes"][0]["cp_plans"][0]["previous_plans"] == 0

    path = tmp_path / "cin.xml"
    path.write_bytes(xml)
    report = validate_cin(path, YEAR)
    assert report.schema_errors == []
    assert report.crashed_rules == []
    assert report.errors == [], [i.line() for i in report.errors]
    assert not report.failed


@pytest.mark.parametrize("pack_name", ["ics2010", "wt2023"])
def test_stories_run_through_each_pack(db: Engine, tmp_path: Path, pack_name: str) -> None:
    """Every story run by each built-in pack through the real store: the census is valid,
    passes the DfE rules with no error, and holds exactly the story's items."""
    store = CaseStore(db, PackRegistry())
    pack = store.packs.get(pack_name)
    stories = {}
    for path in STORIES:
        story = load_story(path)
        StoryRunner(store.service, pack).run(story)
        stories[story["child"]["la_child_id"]] = story
    with Session(db) as session:
        xml = census_bytes(iter_cases(session))
    assert schema().validate(etree.fromstring(xml)), schema().error_log

    children = census_children(xml)
    assert sorted(children) == sorted(stories)
    for child_id, story in stories.items():
        assert without_computed(children[child_id]) == record_to_story(
            story_to_record(in_year(story))), child_id

    path = tmp_path / "cin.xml"
    path.write_bytes(xml)
    report = validate_cin(path, YEAR)
    assert report.crashed_rules == []
    assert report.errors == [], [i.line() for i in report.errors]


# -- the year's boundaries --------------------------------------------------------------------


def child(la_child_id: str, **kwargs: Any) -> Child:
    base: dict[str, Any] = dict(upn_unknown="UN1", birth_date=D(2020, 1, 15), sex="F",
                                ethnicity="WBRI", disabilities=["NONE"])
    base.update(kwargs)
    return Child(la_child_id=la_child_id, **base)


def closed_before_the_year() -> CaseRecord:
    return CaseRecord(child("B1"), [Episode(
        referral_date=D(2025, 1, 6), referral_source="2A", primary_need="N4",
        assessments=[Assessment(D(2025, 1, 7), D(2025, 2, 14), ["4B"])],
        closure_date=D(2025, 3, 31), closure_reason="RC9")])


def referred_after_the_year() -> CaseRecord:
    return CaseRecord(child("B2"), [Episode(referral_date=D(2026, 4, 1), referral_source="6",
                                            primary_need="N1")])


def spanning_the_year_end() -> CaseRecord:
    """Referred in March 2026; most of the work happens after 31 March."""
    return CaseRecord(child("B3", birth_date=D(2012, 5, 5), upn_unknown="UN2"), [Episode(
        referral_date=D(2026, 3, 2), referral_source="6", primary_need="N1",
        assessments=[Assessment(D(2026, 3, 3), D(2026, 4, 10), ["3A", "3B"]),
                     Assessment(D(2026, 4, 13), D(2026, 5, 20), ["21"])],
        s47s=[Section47(D(2026, 3, 20), icpc_date=D(2026, 4, 9)),
              Section47(D(2026, 4, 2), icpc_not_required=True)],
        cp_plans=[CPPlan(D(2026, 4, 9), "PHY", "PHY", [D(2026, 7, 2)], D(2026, 10, 1))],
        cin_plans=[CINPlan(D(2026, 10, 1), D(2026, 12, 1))],
        closure_date=D(2026, 12, 1), closure_reason="RC7")])


def started_before_the_year() -> CaseRecord:
    """Referred in 2024: last year's work drops out, the plan open in the year stays."""
    return CaseRecord(child("B4", birth_date=D(2015, 2, 2), sex="M", upn_unknown="UN2"), [Episode(
        referral_date=D(2024, 11, 1), referral_source="2A", primary_need="N1",
        assessments=[Assessment(D(2024, 11, 1), D(2024, 12, 6), ["16A"])],
        s47s=[Section47(D(2024, 11, 4), icpc_date=D(2024, 11, 22)),
              Section47(D(2025, 2, 3), icpc_not_required=True)],
        cp_plans=[CPPlan(D(2024, 11, 22), "NEG", "EMO", [D(2025, 2, 20), D(2025, 8, 14)],
                         D(2025, 8, 14))],
        cin_plans=[CINPlan(D(2024, 8, 1), D(2024, 11, 22)), CINPlan(D(2025, 8, 14))])])


def born_after_the_year() -> CaseRecord:
    """A pre-birth referral; the baby was born in April, after the reference date."""
    return CaseRecord(child("B5", birth_date=D(2026, 4, 20), sex="M", upn_unknown="UN1"),
                      [Episode(referral_date=D(2026, 1, 12), referral_source="3D",
                               primary_need="N1",
                               assessments=[Assessment(D(2026, 1, 13), D(2026, 2, 20),
                                                       ["2B"])],
                               cin_plans=[CINPlan(D(2026, 2, 23))])])


def test_children_outside_the_year_are_left_out() -> None:
    xml = census_bytes([closed_before_the_year(), referred_after_the_year(),
                        spanning_the_year_end()])
    assert list(census_children(xml)) == ["B3"]
    assert census_child(closed_before_the_year(), YEAR) is None
    assert census_child(referred_after_the_year(), YEAR) is None
    # the next year has them (the closed one is in 2024-25's return instead)
    assert census_child(referred_after_the_year(), 2027) is not None
    assert census_child(closed_before_the_year(), 2025) is not None


def test_activity_after_the_reference_date_is_left_out() -> None:
    record = spanning_the_year_end()
    before = copy.deepcopy(record)
    got = census_children(census_bytes([record]))["B3"]
    assert record == before  # the record itself is not changed
    assert got["episodes"] == [{
        "referral": {"date": D(2026, 3, 2), "source": "6", "nfa": False},
        "primary_need": "N1",
        # authorised after 31 March: open at the reference date, so no factors either
        "assessments": [{"start": D(2026, 3, 3)}],
        # its conference was after 31 March: open, with its target
        "s47": [{"start": D(2026, 3, 20), "icpc_target": D(2026, 4, 14)}],
        # no plan, no closure: both after the year
    }]


def test_work_finished_before_the_year_is_left_out() -> None:
    got = census_children(census_bytes([started_before_the_year()]))["B4"]
    assert got["episodes"] == [{
        "referral": {"date": D(2024, 11, 1), "source": "2A", "nfa": False},
        "primary_need": "N1",
        # the assessment was authorised, the conference held and the first CIN plan ended in
        # 2024-25; the enquiry that needed no conference started then too
        "cp_plans": [{"start": D(2024, 11, 22), "initial_category": "NEG",
                      "latest_category": "EMO", "reviews": [D(2025, 2, 20), D(2025, 8, 14)],
                      "end": D(2025, 8, 14), "previous_plans": 0}],
        "cin_plans": [{"start": D(2025, 8, 14)}],
    }]


def test_a_child_born_after_the_reference_date_was_unborn_on_it() -> None:
    got = census_children(census_bytes([born_after_the_year()]))["B5"]["child"]
    assert got["expected_birth_date"] == D(2026, 4, 20)
    assert "birth_date" not in got
    assert got["sex"] == "U"


def test_boundary_cases_pass_the_dfe_rules(tmp_path: Path) -> None:
    records = [closed_before_the_year(), referred_after_the_year(), spanning_the_year_end(),
               started_before_the_year(), born_after_the_year(), *story_records()]
    path = tmp_path / "cin.xml"
    path.write_bytes(census_bytes(records))
    assert schema().validate(etree.parse(str(path))), schema().error_log
    report = validate_cin(path)
    assert report.crashed_rules == []
    assert report.errors == [], [i.line() for i in report.errors]


# -- the file ---------------------------------------------------------------------------------


def test_header_and_codes() -> None:
    moment = datetime(2026, 4, 15, 8, 30, tzinfo=UTC)
    with use_clock(FixedClock(moment)):
        xml = census_bytes(story_records(), software="Test LA system", serial_no=7)
    root = etree.fromstring(xml)
    assert root.tag == "Message"
    assert [e.tag for e in root] == ["Header", "Children"]
    assert root.findtext("Header/CollectionDetails/Collection") == "CIN"
    assert root.findtext("Header/CollectionDetails/Year") == "2026"
    assert root.findtext("Header/CollectionDetails/ReferenceDate") == "2026-03-31"
    source = root.find("Header/Source")
    assert source is not None
    assert [(e.tag, e.text) for e in source] == [
        ("SourceLevel", "L"), ("LEA", "201"), ("SoftwareCode", "Test LA system"),
        ("Release", __import__("carepath").__version__), ("SerialNo", "007"),
        ("DateTime", "2026-04-15T09:30:00"),  # London time (summer)
    ]
    # 0/1 flags, NFA referral, ICPC not required
    def details_of(child_id: str, path: str = "CINdetails") -> Any:
        return root.xpath(f"Children/Child[ChildIdentifiers/LAchildID='{child_id}']/{path}")[0]

    nfa = details_of("C0101")
    assert nfa.findtext("ReferralNFA") == "1"
    assert nfa.find("PrimaryNeedCode") is None
    s47 = details_of("C0105", "CINdetails/Section47")
    assert s47.findtext("ICPCnotRequired") == "1"
    assert s47.find("DateOfInitialCPC") is None
    # element order in CINdetails follows the schema
    details = details_of("C0108")
    assert [e.tag for e in details] == [
        "CINreferralDate", "ReferralSource", "PrimaryNeedCode", "Assessments", "CINPlanDates",
        "Section47", "ReferralNFA", "ChildProtectionPlans"]


def test_disabilities_left_out_when_none_recorded() -> None:
    record = spanning_the_year_end()
    record.child.disabilities = []
    root = etree.fromstring(census_bytes([record]))
    chars = root.find("Children/Child/ChildCharacteristics")
    assert chars is not None and [e.tag for e in chars] == ["Ethnicity"]


def test_missing_items_are_listed() -> None:
    record = spanning_the_year_end()
    record.child.sex = None
    record.episodes[0].referral_source = None
    out = io.BytesIO()
    summary = write_cin_census([record], YEAR, "201", out)
    assert [str(m) for m in summary.missing] == [
        "B3: Sex (DfE rule 4180)", "B3: CINdetails[1]/ReferralSource (DfE rule 8866)"]
    assert not schema().validate(etree.fromstring(out.getvalue()))


def test_summary_counts_children_and_episodes() -> None:
    out = io.BytesIO()
    summary = write_cin_census(
        [CaseData(1, "C0106", "W", "T", story_to_record(load_story(
            next(p for p in STORIES if p.stem == "two_episodes"))))], YEAR, "201", out)
    assert (summary.children, summary.episodes, summary.missing) == (1, 2, [])


def test_bad_arguments() -> None:
    with pytest.raises(ReturnError, match="3-digit"):
        write_cin_census(story_records(), YEAR, "2O1", io.BytesIO())
    with pytest.raises(ReturnError, match="year"):
        write_cin_census(story_records(), 2024, "201", io.BytesIO())
    out = io.BytesIO()
    with pytest.raises(ReturnError, match="nothing to return"):
        write_cin_census([closed_before_the_year()], YEAR, "201", out)
    assert out.getvalue() == b""


def test_calendar_closure_days_move_the_icpc_target() -> None:
    record = spanning_the_year_end()
    closed = WorkingDayCalendar(closure_days=[D(2026, 3, 23)])
    got = census_children(census_bytes([record], calendar=closed))["B3"]
    assert got["episodes"][0]["s47"][0]["icpc_target"] == D(2026, 4, 15)


# -- streaming --------------------------------------------------------------------------------


def synthetic(n: int) -> Iterator[CaseRecord]:
    """``n`` children, made one at a time."""
    for i in range(n):
        referral = D(2025, 4, 7) + timedelta(days=7 * (i % 40))
        authorised = referral + timedelta(days=20)
        yield CaseRecord(
            Child(la_child_id=f"S{i:07d}", upn_unknown="UN2", birth_date=D(2012, 1, 1),
                  sex="MF"[i % 2], ethnicity="WBRI", disabilities=["NONE"]),
            [Episode(referral_date=referral, referral_source="2A", primary_need="N1",
                     assessments=[Assessment(referral, authorised, ["4B", "3A"])],
                     s47s=[Section47(referral, icpc_not_required=True)],
                     cin_plans=[CINPlan(authorised)])],
        )


def peak_memory(n: int, path: Path) -> int:
    tracemalloc.start()
    try:
        with path.open("wb") as out:
            summary = write_cin_census(synthetic(n), YEAR, "201", out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.children == n
    return peak


def test_census_streams_in_bounded_memory(tmp_path: Path) -> None:
    with (tmp_path / "warm.xml").open("wb") as out:  # first-use caches (holidays...) aside
        write_cin_census(synthetic(100), YEAR, "201", out)
    small = peak_memory(2_000, tmp_path / "small.xml")
    large = peak_memory(20_000, tmp_path / "large.xml")
    assert (tmp_path / "large.xml").stat().st_size > 9 * (tmp_path / "small.xml").stat().st_size
    # Ten times the children, not ten times the memory. One child's record and XML take a few
    # kilobytes, so 20,000 held at once would take tens of megabytes: the bound is generous.
    assert large < small + 1_000_000, (small, large)
    assert large < 4_000_000, large


# -- the record stream ------------------------------------------------------------------------


def test_iter_cases_matches_load_record_with_few_queries(db: Engine) -> None:
    records = story_records() * 3
    ids = []
    for i, record in enumerate(records):
        record = copy.deepcopy(record)
        record.child.la_child_id = f"{record.child.la_child_id}X{i}"
        if i % 5 == 0:  # emergency protection dates come back from the stream too
            first = record.episodes[0]
            first.emergency_protection = [] if first.referral_nfa else [first.referral_date]
        ids.append(store_record(db, record, worker=f"W{i}", team=None if i % 2 else "Team A"))

    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with Session(db) as session:
        event.listen(db, "before_cursor_execute", count)
        try:
            cases = list(iter_cases(session, batch=7))
        finally:
            event.remove(db, "before_cursor_execute", count)
        assert [c.case_id for c in cases] == ids
        batches = -(-len(ids) // 7)
        # and, in a batch with a looked-after child, one query for the record and one per list
        assert len(statements) <= (8 + 1 + len(LISTS)) * batches, statements
        for i, case in enumerate(cases):
            assert case.record == load_record(session, case.case_id)
            assert case.la_child_id == case.record.child.la_child_id
            assert case.worker == f"W{i}"
            assert case.team == (None if i % 2 else "Team A")


def test_iter_cases_on_an_empty_database(db: Engine) -> None:
    with Session(db) as session:
        assert list(iter_cases(session)) == []


def test_text_is_escaped_and_bad_characters_refused() -> None:
    record = spanning_the_year_end()
    record.child.la_child_id = "A&B<1>"
    xml = census_bytes([record])
    assert list(census_children(xml)) == ["A&B<1>"]
    record.child.la_child_id = "B\x01"
    with pytest.raises(ReturnError, match="cannot be written in XML"):
        census_bytes([record])


def test_child_element_matches_the_file() -> None:
    view = census_child(spanning_the_year_end(), YEAR)
    assert view is not None
    element = child_element(view)
    root = etree.fromstring(census_bytes([spanning_the_year_end()]))
    assert etree.tostring(element) == etree.tostring(root.find("Children/Child"), with_tail=False)


# -- the command ------------------------------------------------------------------------------


def invoke(*args: str) -> Any:
    return CliRunner().invoke(returns, list(args), catch_exceptions=False)


def test_command_writes_the_census(db: Engine, db_url: str, tmp_path: Path) -> None:
    for record in story_records():
        store_record(db, record)
    out = tmp_path / "returns" / "cin.xml"
    out.parent.mkdir()
    result = invoke("cin-census", "--year", "2026", "--la", "201", "--out", str(out),
                    "--db", db_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"Wrote {out}: CIN census 2025-26 (1 April 2025 to 31 March 2026), LA 201: "
        "22 children, 24 episodes.")
    assert [p.name for p in out.parent.iterdir()] == ["cin.xml"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's 0600
    assert schema().validate(etree.parse(str(out)))

    result = invoke("cin-census", "--year", "2026", "--la", "201", "--out", str(out),
                    "--db", db_url, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["children"], data["episodes"], data["missing"]) == (22, 24, [])


def test_command_errors_leave_the_old_file(db: Engine, db_url: str, tmp_path: Path) -> None:
    store_record(db, closed_before_the_year())
    out = tmp_path / "out" / "cin.xml"
    out.parent.mkdir()
    out.write_text("last year's file")
    result = CliRunner().invoke(returns, ["cin-census", "--year", "2026", "--la", "201",
                                          "--out", str(out), "--db", db_url])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: No child had an episode open between 2025-04-01")
    assert out.read_text() == "last year's file"
    assert [p.name for p in out.parent.iterdir()] == ["cin.xml"]

    result = CliRunner().invoke(returns, ["cin-census", "--year", "2026", "--la", "20",
                                          "--out", str(out), "--db", db_url])
    assert result.exit_code == 2
    assert "3-digit" in result.stderr


def test_command_needs_a_database_set_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(returns, ["cin-census", "--year", "2026", "--la", "201",
                                          "--out", str(tmp_path / "cin.xml"), "--db", url])
    assert result.exit_code == 2
    assert "not set up" in result.stderr
    assert not (tmp_path / "cin.xml").exists()
