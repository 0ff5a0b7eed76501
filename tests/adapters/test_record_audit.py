"""``audit verify`` proves the record tables equal what the events say, and an anchor shows a
re-chained log.

One demo caseload per database (every sample story on both packs: every record table has rows);
each tampering runs in a transaction that is rolled back afterwards, and is checked through that
transaction's own connection.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from carepath.adapters.cli.demo import build_demo
from carepath.adapters.db import audit
from carepath.adapters.db.audit import SqlAuditLog, event_hash, heads, verify, verify_all
from carepath.adapters.db.database import dispose_engine, make_engine
from carepath.cli import main
from carepath.service.audit import AuditService, anchor_to_json


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Engine]:
    """The demo caseload, built once per database for this module."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'demo.db'}"
        build_demo(url, Console(quiet=True))
        yield make_engine(url)
        dispose_engine(url)
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    base: str = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    from tests.conftest import _with_search_path

    url = _with_search_path(base, schema)
    try:
        build_demo(url, Console(quiet=True))
        yield make_engine(url)
    finally:
        dispose_engine(url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def tampered(demo: Engine) -> Iterator[Connection]:
    """A connection in a transaction on the demo caseload, rolled back at the end."""
    with demo.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


def _problems(connection: Connection, case_id: int | None = None, **kw: Any) -> list[str]:
    with Session(bind=connection) as session:
        return [str(p) for p in verify(session, case_id, **kw)]


def _one(connection: Connection, sql: str) -> Any:
    return connection.execute(text(sql)).one()


# --- an untouched caseload ------------------------------------------------------------------------


def test_untouched_demo_caseload_verifies_clean_with_nothing_unchecked(demo: Engine) -> None:
    with Session(demo) as session:
        assert verify_all(session) == []  # no problem, and no note either
    report = AuditService(SqlAuditLog(demo)).verify()
    assert report.intact and report.notes == []


# --- each record table: a column edited ----------------------------------------------------------

# (table, column, new value as SQL, what the problem says: the row and the column)
EDITS = [
    ("children", "birth_date", "'1999-12-31'", "children: the child row: birth_date differs"),
    ("children", "upn", "'X999'", "children: the child row: upn differs"),
    ("children", "sex", "'U'", "children: the child row: sex differs"),
    ("children", "ethnicity", "'NOBT'", "children: the child row: ethnicity differs"),
    ("children", "disabilities", "'HAND'", "children: the child row: disabilities differs"),
    ("episodes", "referral_source", "'ZZ'", "episodes: episodes[0]: referral_source is 'ZZ'"),
    ("episodes", "referral_date", "'1999-12-31'",
     "episodes: episodes[0]: referral_date is 1999-12-31"),
    ("episodes", "referral_nfa", "NOT referral_nfa", ": referral_nfa is "),
    ("episodes", "primary_need", "'N0'", ": primary_need is 'N0'"),
    ("episodes", "closure_date", "'1999-12-31'", ": closure_date is 1999-12-31"),
    ("episodes", "closure_reason", "'RC9'", ": closure_reason is 'RC9'"),
    ("episodes", "emergency_protection", "'1999-12-31'",
     ": emergency_protection is '1999-12-31'"),
    ("assessments", "start_date", "'1999-12-31'", ".assessments[0]: start_date is 1999-12-31"),
    ("assessments", "authorised_date", "'1999-12-31'", ".assessments[0]: authorised_date is"),
    ("assessments", "factors", "'9Z'", ".assessments[0]: factors is '9Z'"),
    ("section47s", "start_date", "'1999-12-31'", ".s47s[0]: start_date is 1999-12-31"),
    ("section47s", "icpc_date", "'1999-12-31'", ".s47s[0]: icpc_date is 1999-12-31"),
    ("section47s", "icpc_not_required", "NOT icpc_not_required", ".s47s[0]: icpc_not_required"),
    ("cp_plans", "start_date", "'1999-12-31'", ".cp_plans[0]: start_date is 1999-12-31"),
    ("cp_plans", "end_date", "'1999-12-31'", ".cp_plans[0]: end_date is 1999-12-31"),
    ("cp_plans", "initial_category", "'ZZZ'", ".cp_plans[0]: initial_category is 'ZZZ'"),
    ("cp_plans", "latest_category", "'ZZZ'", ".cp_plans[0]: latest_category is 'ZZZ'"),
    ("cp_plans", "review_count", "review_count + 1", ".cp_plans[0]: review_count is "),
    ("cp_plans", "last_review", "'1999-12-31'", ".cp_plans[0]: last_review is 1999-12-31"),
    ("cp_reviews", "review_date", "'1999-12-31'",
     ".cp_plans[0].reviews[0]: review_date is 1999-12-31"),
    ("cin_plans", "start_date", "'1999-12-31'", ".cin_plans[0]: start_date is 1999-12-31"),
    ("cin_plans", "end_date", "'1999-12-31'", ".cin_plans[0]: end_date is 1999-12-31"),
    ("cases", "worker", "'mallory'", "cases: the case row: worker is 'mallory'"),
    ("cases", "team", "'elsewhere'", "cases: the case row: team is 'elsewhere'"),
    ("cases", "restricted", "NOT restricted", "cases: the case row: restricted is yes"),
    ("cases", "la_child_id", "'FORGED1'", "cases: the case row: la_child_id differs"),
    ("cases", "pack_version", "'9.9.9'", "cases: the case row: pack_version is '9.9.9'"),
]

# the first row of each table that has something to change, and its case
_FIRST = {
    "children": "SELECT case_id AS case_id, case_id AS id FROM children",
    "episodes": "SELECT case_id, id FROM episodes",
    "cases": "SELECT id AS case_id, id FROM cases",
    "cp_reviews": "SELECT e.case_id, r.id FROM cp_reviews r JOIN cp_plans p ON p.id = "
                  "r.cp_plan_id JOIN episodes e ON e.id = p.episode_id WHERE r.seq = 0",
}


def _first_row(connection: Connection, table: str, column: str) -> tuple[int, int]:
    """(case id, row id) of the first row of ``table`` with a value in ``column`` (an
    episode, an item: the first of its episode)."""
    if table in _FIRST:
        query = _FIRST[table]
        where = " AND " if "WHERE" in query else " WHERE "
        if table == "episodes":
            query += where + "seq = 0"
            where = " AND "
        if table in ("episodes", "children") and column not in ("referral_nfa",):
            query += f"{where}{column} IS NOT NULL AND {column} <> ''" \
                if column in ("emergency_protection", "disabilities") \
                else f"{where}{column} IS NOT NULL"
        order = "e.case_id" if table == "cp_reviews" else "1"
        row = _one(connection, f"{query} ORDER BY {order} LIMIT 1")
        return int(row.case_id), int(row.id)
    row = _one(connection, f"SELECT e.case_id, t.id FROM {table} t JOIN episodes e ON e.id = "
               f"t.episode_id WHERE t.seq = 0 AND e.seq = 0 AND t.{column} IS NOT NULL "
               "ORDER BY e.case_id LIMIT 1")
    return int(row.case_id), int(row.id)


@pytest.mark.parametrize(("table", "column", "value", "said"), EDITS,
                         ids=[f"{t}.{c}" for t, c, _, _ in EDITS])
def test_an_edited_column_is_reported_with_its_row_and_column(
        tampered: Connection, table: str, column: str, value: str, said: str) -> None:
    if column == "emergency_protection":  # the demo has none: give one to an episode first
        case_id, row_id = _first_row(tampered, "episodes", "referral_nfa")
    else:
        case_id, row_id = _first_row(tampered, table, column)
    key = "case_id" if table == "children" else "id"
    tampered.execute(text(f"UPDATE {table} SET {column} = {value} WHERE {key} = {row_id}"))
    problems = _problems(tampered)
    assert problems, f"an edit of {table}.{column} went unseen"
    assert all(p.startswith(f"case {case_id}: ") for p in problems), problems
    assert any(said in p for p in problems), problems
    if table == "children" or column == "la_child_id":  # personal data: no values shown
        assert "1999" not in " ".join(problems) and "FORGED" not in " ".join(problems)
    # the case on its own says the same
    assert _problems(tampered, case_id) == problems


# --- rows deleted and rows added ------------------------------------------------------------------

DELETES = ["children", "episodes", "assessments", "section47s", "cp_plans", "cp_reviews",
           "cin_plans"]


@pytest.mark.parametrize("table", DELETES)
def test_a_deleted_row_is_reported_missing(tampered: Connection, table: str) -> None:
    column = {"children": "birth_date", "episodes": "referral_date", "cp_reviews": "review_date"
              }.get(table, "start_date")
    case_id, row_id = _first_row(tampered, table, column)
    if table == "cp_plans":  # its reviews first (the foreign key)
        tampered.execute(text(f"DELETE FROM cp_reviews WHERE cp_plan_id = {row_id}"))
    if table == "episodes":
        for items in ("assessments", "section47s", "cin_plans"):
            tampered.execute(text(f"DELETE FROM {items} WHERE episode_id = {row_id}"))
        tampered.execute(text("DELETE FROM cp_reviews WHERE cp_plan_id IN (SELECT id FROM "
                              f"cp_plans WHERE episode_id = {row_id})"))
        tampered.execute(text(f"DELETE FROM cp_plans WHERE episode_id = {row_id}"))
    key = "case_id" if table == "children" else "id"
    tampered.execute(text(f"DELETE FROM {table} WHERE {key} = {row_id}"))
    problems = _problems(tampered)
    assert any(p.startswith(f"case {case_id}: {table}: ") and "is missing from the table (the "
               "events record it: event " in p for p in problems), problems


def test_a_deleted_access_grant_and_an_added_one_are_reported(tampered: Connection) -> None:
    case_id = int(_one(tampered, "SELECT min(id) AS id FROM cases").id)
    name = _one(tampered, "SELECT min(name) AS name FROM users").name
    tampered.execute(text(f"INSERT INTO case_access (case_id, user_name) VALUES ({case_id}, "
                          f"'{name}')"))
    assert _problems(tampered) == [f"case {case_id}: case_access: access for {name!r} is in the "
                                   "table but not in the events (a row was added)"]


STRAYS = {
    "episodes": "INSERT INTO episodes (case_id, seq, referral_date, referral_nfa, "
                "emergency_protection) SELECT case_id, 99, referral_date, referral_nfa, '' "
                "FROM episodes WHERE id = {id}",
    "assessments": "INSERT INTO assessments (episode_id, seq, start_date, factors) SELECT "
                   "episode_id, 99, start_date, '' FROM assessments WHERE id = {id}",
    "section47s": "INSERT INTO section47s (episode_id, seq, start_date, icpc_not_required) "
                  "SELECT episode_id, 99, start_date, icpc_not_required FROM section47s "
                  "WHERE id = {id}",
    "cp_plans": "INSERT INTO cp_plans (episode_id, seq, start_date, review_count) SELECT "
                "episode_id, 99, start_date, 0 FROM cp_plans WHERE id = {id}",
    "cp_reviews": "INSERT INTO cp_reviews (cp_plan_id, seq, review_date) SELECT cp_plan_id, "
                  "99, review_date FROM cp_reviews WHERE id = {id}",
    "cin_plans": "INSERT INTO cin_plans (episode_id, seq, start_date) SELECT episode_id, 99, "
                 "start_date FROM cin_plans WHERE id = {id}",
}


@pytest.mark.parametrize("table", sorted(STRAYS))
def test_a_stray_row_is_reported_added(tampered: Connection, table: str) -> None:
    column = {"episodes": "referral_date", "cp_reviews": "review_date"}.get(table, "start_date")
    case_id, row_id = _first_row(tampered, table, column)
    tampered.execute(text(STRAYS[table].format(id=row_id)))
    problems = _problems(tampered)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"case {case_id}: {table}: ")
    assert "[99] is in the table but not in the events (a row was added)" in problems[0]


def test_one_case_finds_rows_added_to_tables_it_has_none_in(tampered: Connection) -> None:
    """The case page checks one case and reads only the tables holding its rows: a row added to
    a table where the case had none (no looked-after record, no access grants) is still found."""
    case_id = int(_one(tampered, "SELECT min(c.id) AS id FROM cases c WHERE NOT EXISTS (SELECT 1 "
                                 "FROM looked_after l WHERE l.case_id = c.id)").id)
    tampered.execute(text(f"INSERT INTO looked_after (case_id, uasc) VALUES ({case_id}, true)"))
    tampered.execute(text("INSERT INTO lac_periods (case_id, seq, start_date) VALUES "
                          f"({case_id}, 0, '2025-01-06')"))
    problems = _problems(tampered, case_id)
    assert any("looked_after: the looked-after row is in the table but not in the events" in p
               for p in problems), problems
    assert any("lac_periods: looked_after.periods[0] is in the table but not in the events" in p
               for p in problems), problems
    assert _problems(tampered) == problems


def test_a_child_row_added_to_a_case_without_one(tampered: Connection) -> None:
    case_id, _ = _first_row(tampered, "children", "birth_date")
    saved = _one(tampered, f"SELECT * FROM children WHERE case_id = {case_id}")
    tampered.execute(text(f"DELETE FROM children WHERE case_id = {case_id}"))
    assert _problems(tampered) == [f"case {case_id}: children: the child row is missing from "
                                   "the table (the events record it: event 1)"]
    tampered.execute(text("INSERT INTO children (case_id, upn, sex, disabilities) VALUES "
                          f"({case_id}, :upn, 'M', '')"), {"upn": saved.upn})
    problems = _problems(tampered)
    assert problems and all("children: the child row: " in p for p in problems)


# --- a re-chained log, and the anchor ---------------------------------------------------------


def _rechain(connection: Connection, case_id: int) -> None:
    """What a forger with the database does: rewrite an event, then recompute every hash after
    it and move the case's head, so the chain is consistent in itself."""
    events = connection.execute(text(
        "SELECT id, seq, at, actor, kind, payload, prev_hash FROM events WHERE case_id = "
        f"{case_id} ORDER BY seq")).all()
    prev = ""
    with Session(bind=connection) as session:
        from carepath.adapters.db.models import EventRow

        for row in events:
            event = session.get(EventRow, row.id)
            assert event is not None
            if event.seq == 1:
                event.actor = "someone.else"  # not a record change: the record still agrees
            event.prev_hash = prev
            event.hash = event_hash(prev, case_id, event.seq, event.at, event.actor, event.kind,
                                    event.payload)
            prev = event.hash
        session.flush()
    connection.execute(text(f"UPDATE cases SET head_hash = '{prev}' WHERE id = {case_id}"))


def test_a_rechained_log_passes_the_chain_but_not_the_anchor(tampered: Connection) -> None:
    with Session(bind=tampered) as session:
        anchored = {case_id: (seq, head) for case_id, seq, head in heads(session)}
    case_id = min(anchored)
    _rechain(tampered, case_id)
    assert _problems(tampered) == []  # consistent in itself
    problems = _problems(tampered, anchor=anchored)
    assert problems == [f"case {case_id}: event {anchored[case_id][0]} is not the event "
                        "anchored as the case's head: the log was rewritten (hashes recomputed) "
                        "after the anchor was taken"]
    assert _problems(tampered, case_id, anchor=anchored) == problems


def test_anchor_of_a_case_deleted_or_shortened(tampered: Connection) -> None:
    with Session(bind=tampered) as session:
        anchored = {case_id: (seq, head) for case_id, seq, head in heads(session)}
    case_id = min(anchored)
    seq = anchored[case_id][0]
    gone = {**anchored, 10**6: (3, "a" * 64), case_id: (seq + 5, "b" * 64)}
    problems = _problems(tampered, anchor=gone)
    assert problems == [
        f"case {case_id}: event {seq + 5}, the case's head when anchored, is no longer in the "
        f"log (the case now has {seq} events)",
        "case 1000000: the case was anchored but is no longer in the database",
    ]


def test_verification_reads_the_tables_not_the_record_cache(demo: Engine) -> None:
    """The app's record cache holds the record as written; the audit reads the database."""
    from carepath.adapters.app import case_service

    service = case_service(demo)
    case_id = service.case_ids()[0]
    service.record(case_id)  # cached now
    with demo.begin() as connection:
        before = _one(connection, f"SELECT sex FROM children WHERE case_id = {case_id}").sex
        connection.execute(text(f"UPDATE children SET sex = 'U' WHERE case_id = {case_id}"))
    try:
        report = AuditService(SqlAuditLog(demo)).verify_case(case_id)
        assert not report.intact
        assert [p.problem for p in report.problems] == [
            "children: the child row: sex differs from the events (event 1) (values not shown: "
            "personal data)"]
    finally:
        with demo.begin() as connection:
            connection.execute(text(f"UPDATE children SET sex = :sex WHERE case_id = {case_id}"),
                               {"sex": before})


def test_many_batches_of_cases(tampered: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "VERIFY_BATCH", 5)
    last = int(_one(tampered, "SELECT max(id) AS id FROM cases").id)
    tampered.execute(text(f"UPDATE cases SET worker = 'x' WHERE id IN (1, 6, {last})"))
    problems = _problems(tampered)
    assert [p.split(":")[0] for p in problems] == ["case 1", "case 6", f"case {last}"]


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_anchor_verify_and_case_show_warning(demo: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    url = demo.url.render_as_string(hide_password=False)

    def cli(*args: str) -> Any:
        return runner.invoke(main, [*args, "--db", url], catch_exceptions=False)

    with demo.connect() as connection:
        count = int(_one(connection, "SELECT count(*) AS n FROM cases").n)
    anchor_file = tmp_path / "anchor.json"
    result = cli("audit", "anchor", "--out", str(anchor_file))
    assert result.exit_code == 0, result.output
    assert f"Anchored {count} cases" in result.output
    printed = json.loads(cli("audit", "anchor").output)
    assert printed["cases"] == count and len(printed["heads"]) == count
    result = cli("audit", "verify", "--anchor", str(anchor_file))
    assert result.exit_code == 0, result.output
    assert "Audit trail intact" in result.output and "anchor of" in result.output

    shown = json.loads(cli("case", "show", "1", "--json").output)
    assert shown["audit"] == {"intact": True, "problems": []}

    with demo.begin() as connection:
        before = _one(connection, "SELECT referral_source FROM episodes WHERE case_id = 1 AND "
                      "seq = 0").referral_source
        connection.execute(text("UPDATE episodes SET referral_source = 'ZZ' WHERE case_id = 1 "
                                "AND seq = 0"))
    try:
        result = cli("audit", "verify", "--anchor", str(anchor_file))
        assert result.exit_code == 1
        assert "case 1: episodes: episodes[0]: referral_source is 'ZZ' in the table but" \
            in result.output
        report = json.loads(cli("audit", "verify", "--case", "1", "--json").output)
        assert report["intact"] is False and report["problems"][0]["case_id"] == 1
        shown = json.loads(cli("case", "show", "1", "--json").output)
        assert shown["audit"]["intact"] is False
        assert "referral_source" in shown["audit"]["problems"][0]
        result = cli("case", "show", "1")
        assert result.exit_code == 0
        assert "Warning: case 1 fails its audit (1 problem)" in result.output
    finally:
        with demo.begin() as connection:
            connection.execute(text("UPDATE episodes SET referral_source = :s WHERE case_id = 1 "
                                    "AND seq = 0"), {"s": before})

    # an anchor file that was edited, or is not one, is refused (exit 2, nothing checked)
    data = json.loads(anchor_file.read_text())
    data["heads"][0]["hash"] = "0" * 64
    anchor_file.write_text(json.dumps(data))
    result = cli("audit", "verify", "--anchor", str(anchor_file))
    assert result.exit_code == 2
    assert "digest does not match" in result.output
    anchor_file.write_text("not json")
    assert cli("audit", "verify", "--anchor", str(anchor_file)).exit_code == 2
    anchor_file.write_text(json.dumps({"format": "x"}))
    assert "is not a carepath audit anchor" in cli("audit", "verify", "--anchor",
                                                  str(anchor_file)).output
    assert cli("audit", "verify", "--anchor", str(tmp_path / "none.json")).exit_code == 2


def test_anchor_json_round_trip(demo: Engine) -> None:
    from carepath.service.audit import anchor_from_json

    anchor = AuditService(SqlAuditLog(demo)).anchor()
    again = anchor_from_json(json.loads(json.dumps(anchor_to_json(anchor))), "test")
    assert again == anchor


def test_a_case_opened_before_events_carried_the_child_is_noted_not_failed(
        tampered: Connection) -> None:
    """Events written by earlier versions lack the child's details and the allocation in
    ``case.opened``: those columns cannot be checked, which verify says (a note), and the rest
    of the record still is."""
    case_id = int(_one(tampered, "SELECT min(id) AS id FROM cases").id)
    row = _one(tampered, f"SELECT id, payload FROM events WHERE case_id = {case_id} AND seq = 1")
    payload = json.loads(row.payload)
    for key in ("child", "worker", "team"):
        payload.pop(key)
    from carepath.adapters.db.audit import canonical_json

    tampered.execute(text("UPDATE events SET payload = :p WHERE id = :id"),
                     {"p": canonical_json(payload), "id": row.id})
    _rechain(tampered, case_id)
    assert _problems(tampered) == []
    with Session(bind=tampered) as session:
        notes = [p for p in verify_all(session, case_id) if p.note]
    assert [n.problem.split(":")[0] for n in notes] == [
        "the child's details as first recorded are not in the events (the case was opened "
        "before carepath put them there)",
        "the allocation the case was opened with is not in the events (opened before carepath "
        "put it there)"]
    tampered.execute(text(f"UPDATE episodes SET referral_source = 'ZZ' WHERE case_id = {case_id}"
                          " AND seq = 0"))
    assert any("referral_source is 'ZZ'" in p for p in _problems(tampered))
