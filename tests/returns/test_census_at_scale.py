"""The CIN census from any record the engine accepts passes the DfE rules: referrals awaiting
their decision at the year end (rules 8610, 8772), the command's message and exit code for a file
that will fail, and census years that have not ended."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carepath.adapters.cli.returns import returns
from carepath.adapters.db.record_stream import iter_cases
from carepath.adapters.packs import PackRegistry
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import (
    Assessment,
    CaseRecord,
    Child,
    Episode,
)
from carepath.engine.simulation.generator import upn_for
from carepath.engine.stories.story import parse_story
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.returns import ReturnError
from carepath.returns.cin_census import check_year_ended, write_cin_census
from carepath.returns.validate_cin import validate_cin
from carepath.service.stories import StoryRunner
from tests.casework import Casework as CaseStore

from . import schema, store_record, story_records

D = date
YEAR = 2026
MARCH_31 = D(2026, 3, 31)


def awaiting_decision() -> CaseRecord:
    """A referral received on 31 March 2026 whose decision is not made by then."""
    return CaseRecord(
        Child("P1", upn=upn_for(7, 1), birth_date=D(2014, 9, 1), sex="M", ethnicity="WBRI",
              disabilities=["NONE"]),
        [Episode(referral_date=MARCH_31, referral_source="2A")])


def un7_then_awaiting_decision() -> CaseRecord:
    """UPN unknown because of an earlier referral with no further action (UN7), and a new
    referral on 31 March still awaiting its decision."""
    return CaseRecord(
        Child("P2", upn_unknown="UN7", birth_date=D(2013, 2, 3), sex="F", ethnicity="AIND",
              disabilities=["NONE"]),
        [Episode(referral_date=D(2025, 6, 16), referral_source="1B", referral_nfa=True,
                 closure_date=D(2025, 6, 16), closure_reason="RC7"),
         Episode(referral_date=MARCH_31, referral_source="6")])


def need_recorded_at_assessment_end() -> CaseRecord:
    """A pack that records the primary need when the assessment ends: open on 31 March."""
    return CaseRecord(
        Child("P3", upn_unknown="UN1", birth_date=D(2022, 5, 6), sex="F", ethnicity="WBRI",
              disabilities=["NONE"]),
        [Episode(referral_date=D(2026, 3, 16), referral_source="3A",
                 assessments=[Assessment(D(2026, 3, 17))])])


def closed_without_need() -> CaseRecord:
    return CaseRecord(
        Child("P4", upn_unknown="UN1", birth_date=D(2022, 5, 6), sex="F", ethnicity="WBRI",
              disabilities=["NONE"]),
        [Episode(referral_date=D(2025, 10, 1), referral_source="3A",
                 closure_date=D(2025, 10, 2), closure_reason="RC7")])


def details(root: Any, child_id: str) -> list[Any]:
    return root.xpath(f"Children/Child[ChildIdentifiers/LAchildID='{child_id}']/CINdetails")


def test_referrals_awaiting_a_decision_pass_the_dfe_rules(tmp_path: Path) -> None:
    records = [awaiting_decision(), un7_then_awaiting_decision(),
               need_recorded_at_assessment_end(), *story_records()]
    out = io.BytesIO()
    summary = write_cin_census(records, YEAR, "201", out)
    root = etree.fromstring(out.getvalue())
    assert schema().validate(root), schema().error_log

    # in the return, open, not NFA, primary need N0 "not stated" (rule 8610)
    [pending] = details(root, "P1")
    assert pending.findtext("CINreferralDate") == "2026-03-31"
    assert pending.findtext("ReferralNFA") == "0"
    assert pending.findtext("PrimaryNeedCode") == "N0"
    assert pending.find("CINclosureDate") is None
    # UN7 no longer holds once a referral is not NFA: left out (rule 8772), and said
    child = root.xpath("Children/Child[ChildIdentifiers/LAchildID='P2']")[0]
    assert child.find("ChildIdentifiers/UPNunknown") is None
    assert [e.findtext("ReferralNFA") for e in details(root, "P2")] == ["1", "0"]
    assert details(root, "P3")[0].findtext("PrimaryNeedCode") == "N0"

    assert summary.missing == []
    notes = [str(n) for n in summary.notes]
    assert notes[0].startswith("P1: CINdetails[1]: the referral of 2026-03-31 had no decision "
                               "by the reference date")
    assert any(n.startswith("P2: UPNunknown UN7") and "8772" in n for n in notes)
    assert any(n.startswith("P3: CINdetails[1]: the referral of 2026-03-16 has no primary need "
                            "recorded yet") for n in notes)

    path = tmp_path / "cin.xml"
    path.write_bytes(out.getvalue())
    report = validate_cin(path, YEAR)
    assert report.schema_errors == []
    assert report.crashed_rules == []
    assert report.errors == [], [i.line() for i in report.errors]


def test_a_closed_episode_without_its_need_is_missing_not_filled_in() -> None:
    summary = write_cin_census([closed_without_need()], YEAR, "201", io.BytesIO())
    assert [str(m) for m in summary.missing] == [
        "P4: CINdetails[1]/PrimaryNeedCode (DfE rule 8610)"]


@pytest.mark.parametrize("pack_name", ["ics2010", "wt2023"])
def test_a_31_march_referral_run_through_the_pack(db: Engine, tmp_path: Path,
                                                  pack_name: str) -> None:
    """The simulator's case: a referral on 31 March, the decision still to come. Recorded by the
    pack (the decision task left open), the census passes the DfE rules."""
    text = """
child: {la_child_id: M31, upn_unknown: UN1, birth_date: 2023-02-01, sex: M, ethnicity: WBRI,
        disabilities: [NONE]}
episodes:
  - referral: {date: 2026-03-31, source: 3B}
"""
    story = parse_story(load_yaml(text, "m31.yaml"), "m31.yaml")
    store = CaseStore(db, PackRegistry())
    StoryRunner(store.service, store.packs.get(pack_name)).run(story)
    with Session(db) as session:
        out = io.BytesIO()
        summary = write_cin_census([*iter_cases(session), *story_records()], YEAR, "201", out)
    assert summary.missing == []
    path = tmp_path / "cin.xml"
    path.write_bytes(out.getvalue())
    report = validate_cin(path, YEAR)
    assert report.crashed_rules == []
    assert report.errors == [], [i.line() for i in report.errors]


# -- the command ------------------------------------------------------------------------------


def invoke(*args: str) -> Any:
    return CliRunner().invoke(returns, list(args), catch_exceptions=False)


def test_a_file_that_will_fail_is_said_to_and_exits_1(db: Engine, db_url: str,
                                                      tmp_path: Path) -> None:
    for record in [closed_without_need(), awaiting_decision()]:
        store_record(db, record)
    out = tmp_path / "cin.xml"
    result = invoke("cin-census", "--year", "2026", "--la", "201", "--out", str(out),
                    "--db", db_url)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert "  Problem: P4: CINdetails[1]/PrimaryNeedCode (DfE rule 8610)" in lines
    assert any(line.startswith("  Note: P1: CINdetails[1]: the referral of 2026-03-31")
               for line in lines)
    assert lines[-1].startswith("FAILED: 1 item(s) the census needs are missing or wrong in the "
                                "records, so the file will fail the DfE checks")
    assert "fail the schema:" not in result.stdout
    assert out.exists()  # written, to be looked at with `returns validate cin`

    result = invoke("cin-census", "--year", "2026", "--la", "201", "--out", str(out),
                    "--db", db_url, "--json")
    assert result.exit_code == 1
    assert '"rule": "8610"' in result.stdout


def test_a_census_year_that_has_not_ended_is_refused(db: Engine, db_url: str,
                                                     tmp_path: Path) -> None:
    store_record(db, awaiting_decision())
    out = tmp_path / "cin.xml"
    with use_clock(FixedClock(datetime(2026, 12, 4, 12, tzinfo=UTC))):
        result = CliRunner().invoke(returns, ["cin-census", "--year", "2027", "--la", "201",
                                              "--out", str(out), "--db", db_url])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: The 2026-27 census year runs to 31 March 2027: "
                                    "there is no return for it before 1 April 2027")
    assert not out.exists()

    with use_clock(FixedClock(datetime(2026, 3, 31, 20, tzinfo=UTC))):  # its last day
        result = CliRunner().invoke(returns, ["cin-census", "--year", "2026", "--la", "201",
                                              "--out", str(out), "--db", db_url])
    assert result.exit_code == 2 and "runs to 31 March 2026" in result.stderr

    with use_clock(FixedClock(datetime(2026, 4, 1, 9, tzinfo=UTC))):
        result = CliRunner().invoke(returns, ["cin-census", "--year", "2026", "--la", "201",
                                              "--out", str(out), "--db", db_url])
    assert result.exit_code == 0, result.output


def test_two_children_with_the_same_upn_are_a_problem() -> None:
    first, second = awaiting_decision(), awaiting_decision()
    second.child.la_child_id = "P9"
    summary = write_cin_census([first, second], YEAR, "201", io.BytesIO())
    assert [str(m) for m in summary.missing] == ["P9: UPN, the same as child P1's (DfE rule 1520)"]


def test_check_year_ended() -> None:
    check_year_ended(2026, D(2026, 4, 1))
    check_year_ended(2025, D(2026, 3, 31))
    with pytest.raises(ReturnError, match="2025-26 census year runs to 31 March 2026"):
        check_year_ended(2026, D(2026, 3, 31))
    with pytest.raises(ReturnError, match="today is 4 December 2026"):
        check_year_ended(2030, D(2026, 12, 4))
