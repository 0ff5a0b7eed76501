"""The SSDA903 return: the builder's tables and inclusion rules, the CSV writer, the DfE-rule
check (the real csc-validator-be-903 0.1.17) and ``carepath returns validate ssda903``."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from datetime import date as d
from pathlib import Path

import pytest
from click.testing import CliRunner

from carepath.adapters.cli.returns import returns
from carepath.core.errors import RecordError
from carepath.engine.record.looked_after import LegalStatus, LookedAfter, PeriodOfCare, Placement
from carepath.engine.record.model import Child
from carepath.returns import ReturnError
from carepath.returns.ssda903 import (
    TABLES,
    LookedAfterChild,
    Problem,
    child_rows,
    ssda903_rows,
)
from carepath.returns.ssda903_csv import FILE_NAMES, write_ssda903
from carepath.returns.validate_ssda903 import (
    KNOWN_CRASHES,
    NotA903Return,
    validate_ssda903,
)
from tests.returns import ssda903_children as kids

# the shared domain samples (../shared/domain/samples/ssda903_*), copied
SAMPLES = Path(__file__).parent / "data"
needs_rules = pytest.mark.skipif(
    sys.version_info >= (3, 12) and importlib.util.find_spec("lac_validator") is None,
    reason="csc-validator-be-903 (carepath[validators]) needs pandas 1.x: Python 3.11 only")


def rows_of(child: LookedAfterChild, year: int = 2026) -> tuple[dict[str, list[dict[str, str]]],
                                                                  list[Problem]]:
    problems: list[Problem] = []
    tables: dict[str, list[dict[str, str]]] = {}
    for table, row in child_rows(child, year, problems):
        tables.setdefault(table, []).append(dict(zip(TABLES[table], row, strict=True)))
    return tables, problems


def test_columns_are_the_validators() -> None:
    pytest.importorskip("lac_validator")
    from lac_validator.config import column_names

    for table, columns in TABLES.items():
        assert list(columns) == column_names[table], table
    assert set(FILE_NAMES) == set(TABLES)


def test_section20_then_care_order_rows() -> None:
    tables, problems = rows_of(kids.section20_then_care_order())
    assert problems == []
    episodes = tables["Episodes"]
    assert [(e["DECOM"], e["RNE"], e["LS"], e["PLACE"], e["DEC"], e["REC"],
             e["REASON_PLACE_CHANGE"]) for e in episodes] == [
        ("01/11/2024", "S", "V2", "U6", "15/06/2025", "X1", ""),
        ("15/06/2025", "L", "C1", "U6", "01/09/2025", "X1", "CREQB"),
        ("01/09/2025", "P", "C1", "U4", "01/12/2025", "X1", ""),
        ("01/12/2025", "P", "C1", "T1", "05/12/2025", "X1", ""),
        ("05/12/2025", "P", "C1", "U4", "10/01/2026", "X1", ""),
        ("10/01/2026", "L", "C2", "U4", "", "", ""),
    ]
    assert {e["CIN"] for e in episodes} == {"N1"}
    # reviews held in the year only; OC2 because looked after since before 1 April 2025
    assert [r["REVIEW"] for r in tables["Reviews"]] == ["14/08/2025", "05/02/2026"]
    assert tables["OC2"][0]["SDQ_SCORE"] == "14"
    assert tables["Missing"] == [{"CHILD": "LAC0001", "DOB": "05/05/2014", "MISSING": "M",
                                  "MIS_START": "03/10/2025", "MIS_END": "04/10/2025"}]
    assert [s["SW_DEC"] for s in tables["SWEpisodes"]] == ["01/07/2025", ""]
    assert "PrevPerm" not in tables  # started before the year


def test_care_leaver_is_in_oc3_and_header_only() -> None:
    tables, problems = rows_of(kids.care_leaver())
    assert problems == []
    assert set(tables) == {"Header", "OC3"}  # rule 1012
    assert tables["OC3"][0] == {"CHILD": "LAC0002", "DOB": "15/09/2006", "IN_TOUCH": "YES",
                                "ACTIV": "F5", "ACCOM": "U1"}


def test_no_oc3_for_a_young_person_still_looked_after_on_the_birthday() -> None:
    tables, _ = rows_of(kids.leaves_care_at_18())
    assert "OC3" not in tables  # left care on the 18th birthday (rules 1007, 1016)
    assert tables["Episodes"][0]["REC"] == "E17"


def test_adoption_tables() -> None:
    tables, problems = rows_of(kids.adopted())
    assert problems == []
    assert tables["AD1"][0]["DATE_INT"] == tables["PlacedAdoption"][0]["DATE_PLACED"]  # 523
    assert tables["Header"][0]["MOTHER"] == "0"  # a girl under 12 (rule 393)


def test_short_breaks_have_no_reviews_location_or_mother() -> None:
    tables, _ = rows_of(kids.short_breaks())
    assert "Reviews" not in tables and "SWEpisodes" not in tables
    assert all(e["RNE"] == "S" and e["PL_POST"] == "" and e["URN"] == ""
               for e in tables["Episodes"])
    assert tables["Header"][0]["MOTHER"] == ""  # rule 399


def test_uasc_child() -> None:
    tables, _ = rows_of(kids.uasc())
    assert tables["UASC"][0]["CHILD"] == "LAC0006"
    assert tables["Episodes"][0]["HOME_POST"] == "" and tables["Episodes"][0]["PL_POST"]
    assert tables["PrevPerm"][0]["PREV_PERM"] == "Z1"
    assert tables["Header"][0]["UPN"] == "UN2"


def test_missing_items_are_listed_not_invented() -> None:
    child = kids.section20_then_care_order()
    child.record.outcomes.clear()
    child.record.placements[0].reason_changed = None
    child.record.social_workers.clear()
    tables, problems = rows_of(child)
    assert {p.rule for p in problems} == {"190", "225", "SW17STG2"}
    assert "OC2" not in tables
    assert tables["Episodes"][1]["REASON_PLACE_CHANGE"] == ""


def test_a_bad_record_names_the_child() -> None:
    record = LookedAfter(periods=[PeriodOfCare(d(2025, 5, 1), "N1")],
                         legal_statuses=[LegalStatus("V2", d(2025, 5, 2))],
                         placements=[Placement("U6", d(2025, 5, 1))])
    with pytest.raises(RecordError, match="Child X1: No legal status is recorded from"):
        list(ssda903_rows([LookedAfterChild(Child("X1"), record)], 2026))


def test_year_is_checked() -> None:
    with pytest.raises(ReturnError, match="from 2026"):
        list(ssda903_rows([], 2025))


def test_a_child_outside_the_year_is_in_no_table() -> None:
    record = LookedAfter(periods=[PeriodOfCare(d(2026, 4, 2), "N1")],
                         legal_statuses=[LegalStatus("V2", d(2026, 4, 2))],
                         placements=[Placement("U6", d(2026, 4, 2), provider="PR1")])
    assert child_rows(LookedAfterChild(Child("X2"), record), 2026, []) == []


def test_writer_writes_every_table(tmp_path: Path) -> None:
    summary = write_ssda903(tmp_path, kids.all_children(), 2026)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILE_NAMES.values())
    assert summary.children == 6 and summary.problems == []
    with (tmp_path / "episodes.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == TABLES["Episodes"] and len(rows) - 1 == summary.rows["Episodes"]


def test_writer_leaves_nothing_when_a_record_is_bad(tmp_path: Path) -> None:
    bad = kids.uasc()
    bad.record.placements[0].start = d(2025, 7, 2)
    with pytest.raises(RecordError):
        write_ssda903(tmp_path, [kids.care_leaver(), bad], 2026)
    assert list(tmp_path.iterdir()) == []


def test_writer_can_leave_out_and_list_an_unreadable_child(tmp_path: Path) -> None:
    """What ``returns ssda903`` does: the others are written, the child is listed with why."""
    bad = kids.uasc()
    bad.record.placements[0].start = d(2025, 7, 2)
    unreadable: list[Problem] = []
    summary = write_ssda903(tmp_path, [kids.care_leaver(), bad, kids.adopted()], 2026,
                            unreadable)
    assert summary.children == 2 and summary.problems == []
    assert [(p.child, p.table) for p in unreadable] == [("LAC0006", "Episodes")]
    assert unreadable[0].item.startswith("cannot be worked out, the child is left out: No "
                                         "placement is recorded from 2025-07-01")
    with (tmp_path / "header.csv").open(encoding="utf-8", newline="") as handle:
        assert [r[0] for r in csv.reader(handle)][1:] == ["LAC0002", "LAC0004"]


@needs_rules
def test_the_children_pass_the_dfe_rules(tmp_path: Path) -> None:
    """Section 20 then care order, placement change, missing episode, care leaver, adoption,
    short breaks (V3), UASC: 0 errors under csc-validator-be-903 0.1.17 (2025-26 rules)."""
    write_ssda903(tmp_path, kids.all_children(), 2026)
    report = validate_ssda903(tmp_path, 2026)
    assert [i.line() for i in report.issues] == []
    assert report.crashed_rules == sorted(KNOWN_CRASHES) and report.unexpected_crashes == []
    # rule 218 contradicts 214 on the short-breaks episodes (see validate_ssda903)
    assert {(i.rule, i.child) for i in report.known_conflicts} == {("218", "LAC0005")}
    assert not report.failed and report.failed_strict
    # every table was sent: the rules skipped need last year's tables, Ofsted lists or DoLo
    assert len(report.skipped_rules) < 50


@needs_rules
def test_shared_samples() -> None:
    valid = validate_ssda903(SAMPLES / "ssda903_valid_sample", 2026)
    assert valid.issues == [] and valid.crashed_rules == ["231", "233"] and not valid.failed
    invalid = validate_ssda903(SAMPLES / "ssda903_invalid_sample", 2026)
    assert invalid.rules_failed == ["101", "145", "148", "388"] and invalid.failed


def test_not_a_return(tmp_path: Path) -> None:
    with pytest.raises(NotA903Return, match="not a folder"):
        validate_ssda903(tmp_path / "none")
    with pytest.raises(NotA903Return, match="no .csv files"):
        validate_ssda903(tmp_path)
    with pytest.raises(ReturnError, match="ONS upper-tier code"):
        validate_ssda903(tmp_path, la="201")


@needs_rules
def test_not_a_903_table(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("A,B\n1,2\n", encoding="utf-8")
    with pytest.raises(NotA903Return, match="cannot read these files"):
        validate_ssda903(tmp_path)


@needs_rules
def test_cli(tmp_path: Path) -> None:
    write_ssda903(tmp_path, kids.all_children(), 2026)
    runner = CliRunner()
    result = runner.invoke(returns, ["validate", "ssda903", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "PASSED: 0 error(s)" in result.output and "known upstream crash" in result.output
    strict = runner.invoke(returns, ["validate", "ssda903", str(tmp_path), "--strict"])
    assert strict.exit_code == 1
    bad = runner.invoke(returns, ["validate", "ssda903",
                                  str(SAMPLES / "ssda903_invalid_sample"), "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["rules_failed"] == ["101", "145", "148", "388"]
    missing = runner.invoke(returns, ["validate", "ssda903", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a folder" in missing.output
