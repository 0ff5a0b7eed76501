"""The people tables and the inbox query at scale (20,000 open tasks on SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select

from carepath.adapters.db import models as m
from carepath.adapters.db.cases import SqlCaseRepository
from carepath.adapters.db.database import dispose_engine, make_engine, upgrade
from carepath.service.access import inbox_scope
from carepath.service.types import Actor, InboxQuery

TASKS = 20_000
TEAMS = [f"team{n}" for n in range(10)]
WORKERS = [f"worker{n}" for n in range(100)]
NOW = datetime(2025, 5, 1, 9, tzinfo=UTC)


def _due(n: int) -> date | None:
    return None if n % 7 == 0 else date(2025, 1, 1) + timedelta(days=(n * 37) % 300)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("inbox") / "inbox.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(m.UserRow), [
            {"name": "granted", "display_name": "G", "password_hash": "x", "roles": "",
             "active": True, "created_at": NOW}])
        conn.execute(insert(m.CaseRow), [
            {"id": n + 1, "la_child_id": f"LA{n:06d}", "pack_name": "wt2023",
             "pack_version": "1.0.0", "worker": WORKERS[n % 100], "team": TEAMS[n % 10],
             "version": 1, "event_seq": 0, "head_hash": "", "created_at": NOW,
             "restricted": n % 50 == 1} for n in range(TASKS)])
        conn.execute(insert(m.ProcessInstanceRow), [
            {"id": n + 1, "case_id": n + 1, "episode_seq": 0,
             "process_id": "assessment" if n % 3 else "referral", "pack_name": "wt2023",
             "pack_version": "1.0.0", "status": "running", "state": "{}", "created_at": NOW}
            for n in range(TASKS)])
        conn.execute(insert(m.TaskRow), [
            {"id": n + 1, "case_id": n + 1, "instance_id": n + 1, "spiff_task_id": "s",
             "bpmn_id": "b", "title": "T", "role": "social_worker",
             "assignee": WORKERS[n % 100] if n % 4 else None, "due": _due(n),
             "status": "ready" if n % 11 else "completed", "created_at": NOW}
            for n in range(TASKS)])
        conn.execute(insert(m.CaseAccessRow), [{"case_id": 2, "user_name": "granted"}])
    yield engine
    dispose_engine(url)


def _expected(engine: Engine, actor: Actor, query: InboxQuery) -> list[int]:
    """Every matching task id in order, worked out in Python from all the rows."""
    with engine.connect() as conn:
        rows = conn.execute(select(m.TaskRow.id, m.TaskRow.assignee, m.TaskRow.due,
                                   m.TaskRow.status, m.CaseRow.team, m.CaseRow.worker,
                                   m.CaseRow.restricted, m.CaseRow.la_child_id,
                                   m.ProcessInstanceRow.process_id)
                            .join(m.CaseRow, m.CaseRow.id == m.TaskRow.case_id)
                            .join(m.ProcessInstanceRow,
                                  m.ProcessInstanceRow.id == m.TaskRow.instance_id)).all()
        named = {(c, u) for c, u in conn.execute(select(m.CaseAccessRow.case_id,
                                                         m.CaseAccessRow.user_name))}
    keep = []
    for r in rows:
        visible = (r.id, actor.name) in named or (not r.restricted and (
            r.team in actor.teams or r.worker == actor.name))
        if r.status != "ready" or not visible:
            continue
        if query.scope == "mine" and r.assignee != actor.name:
            continue
        if query.scope == "team" and r.team not in actor.teams:
            continue
        if query.stage and r.process_id != query.stage:
            continue
        if query.child and not r.la_child_id.startswith(query.child):
            continue
        if query.worker and r.assignee != query.worker:
            continue
        keep.append(r)
    keep.sort(key=lambda r: (r.due is None, r.due or date.min, r.id))
    return [r.id for r in keep]


QUERIES = [
    (Actor("worker7", frozenset({"social_worker"}), teams=frozenset({"team7"})),
     InboxQuery(scope="mine")),
    (Actor("worker7", frozenset({"social_worker"}), teams=frozenset({"team7"})),
     InboxQuery(scope="team", per_page=50)),
    (Actor("boss", frozenset({"team_manager"}), teams=frozenset({"team0", "team3"})),
     InboxQuery(scope="team", stage="referral", worker="worker30", per_page=10)),
    (Actor("boss", frozenset({"team_manager"}), teams=frozenset({"team0"})),
     InboxQuery(scope="team", child="LA0001")),
    (Actor("granted", frozenset({"social_worker"})), InboxQuery(scope="team")),
]


@pytest.mark.parametrize(("actor", "query"), QUERIES)
def test_every_page_of_the_inbox_is_right(big: Engine, actor: Actor, query: InboxQuery
                                          ) -> None:
    repo = SqlCaseRepository(big)
    expected = _expected(big, actor, query)
    first, total = repo.inbox(inbox_scope(actor, query), query)
    assert total == len(expected)
    pages = -(-total // query.per_page)
    got = [t.id for t in first]
    for page in range(2, pages + 1):
        more, again = repo.inbox(inbox_scope(actor, query),
                                 InboxQuery(query.scope, query.stage, query.child, query.worker,
                                            page, query.per_page))
        assert again == total
        got += [t.id for t in more]
    assert got == expected
    if query.scope == "mine":
        assert total and all(t.assignee == actor.name for t in first)


def test_the_granted_case_shows_and_the_restricted_ones_do_not(big: Engine) -> None:
    repo = SqlCaseRepository(big)
    # case n + 1 is restricted when n % 50 == 1: every task assigned to worker1 is on one
    worker1 = Actor("worker1", frozenset({"social_worker"}), teams=frozenset({"team1"}))
    mine = InboxQuery(scope="mine")
    assert repo.inbox(inbox_scope(worker1, mine), mine) == ([], 0)
    with big.connect() as conn:
        held = conn.execute(select(func.count()).select_from(m.TaskRow)
                            .where(m.TaskRow.assignee == "worker1",
                                   m.TaskRow.status == "ready")).scalar_one()
    assert held > 0
    # case 2 (restricted, team1) is shown to the one named on it, not to its team
    team = InboxQuery(scope="team", child="LA000001")
    granted = Actor("granted", frozenset({"social_worker"}), teams=frozenset({"team1"}))
    shown, total = repo.inbox(inbox_scope(granted, team), team)
    assert [t.case_id for t in shown] == [2] and total == 1
    assert repo.inbox(inbox_scope(worker1, team), team) == ([], 0)


def _plans(engine: Engine, run: Any) -> list[str]:
    """SQLite's query plan of every SELECT ``run`` makes."""
    seen: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                 executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    plans = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plans.append("\n".join(str(r[-1]) for r in rows))
    return plans


@pytest.mark.parametrize(("actor", "query"), QUERIES[:3])
def test_the_inbox_query_uses_indexes(big: Engine, actor: Actor, query: InboxQuery) -> None:
    repo = SqlCaseRepository(big)
    plans = _plans(big, lambda: repo.inbox(inbox_scope(actor, query), query))
    assert len(plans) == 2  # the page's ids with the count, then those tasks' rows
    for plan in plans:
        # no full scan of the tasks or the cases: each is searched through an index
        lines = plan.splitlines()
        assert not [line for line in lines if line.startswith(("SCAN tasks", "SCAN cases"))], \
            plan
        assert any("USING" in line and ("INDEX" in line or "PRIMARY KEY" in line)
                   for line in lines), plan
    if query.scope == "team":  # from the team's cases, not through every ready task
        assert "ix_cases_team" in plans[0], plans[0]


def test_a_completed_tasks_drafts_are_deleted(db: Engine) -> None:
    from carepath.adapters.app import case_service
    from carepath.engine.time.clock import FixedClock, use_clock

    cases = case_service(db)
    sam = Actor("sam", frozenset({"social_worker"}), teams=frozenset({"north"}))
    with use_clock(FixedClock(NOW)):
        opened = cases.open_case("wt2023", {
            "la_child_id": "D1", "upn_unknown": "UN1", "birth_date": "2015-06-01", "sex": "F",
            "ethnicity": "WBRI", "disabilities": ["NONE"]}, {"date": "2025-05-01",
                                                              "source": "2A"},
            Actor.operator("admin"), worker="sam", team="north")
        task = opened.open_tasks[0]
        cases.save_draft(task.id, {"decision_reasons": "Draft"}, sam)
        cases.save_draft(task.id, {"decision_reasons": "Another"}, Actor.operator("op"))
        with db.connect() as conn:
            assert conn.execute(select(func.count()).select_from(m.TaskDraftRow)
                                ).scalar_one() == 2
        cases.complete_task(task.id, {"nfa": False, "decision_reasons": "Worries.",
                                      "primary_need": "N1", "next_step": "assessment"}, sam)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.TaskDraftRow)).scalar_one() == 0
