"""How many SQL statements a case page takes (a count, not a timing: a regression shows on any
machine). The case page reads the case row once, the events once (for the chronology and the
audit check alike) and records the view in two statements (``CaseService.case_page``)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import Engine, event

from carepath.adapters.app import Services
from carepath.adapters.db.cases import SqlCaseRepository

from .site import DECISION, OPERATOR, open_case, open_task, sign_in

# The statements of one case page, signing-in aside (the user and their teams), on SQLite (its
# write transaction starts with a BEGIN IMMEDIATE statement: one more than on PostgreSQL), for a
# case with a decided referral and an enquiry started (no item rows yet). Record cached: the case
# row with the names on it and which optional record tables hold its rows, the ready tasks, the
# running instances, the events, the child and episode rows for the audit check, and the view
# (BEGIN IMMEDIATE, the head, the event): 9, against 19 before the page was one read. Record not
# cached: its queries (child, episodes, the four item tables), which the audit check then
# compares instead of reading them again: 13, against 26.
WARM = 9
COLD = 13
NOT_SEEN = 1  # a case the person may not see: its row, and no more


class Statements:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[str] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(statement)

    def ours(self) -> list[str]:
        """The statements but signing-in's (the user row and their teams)."""
        return [s for s in self.seen if "FROM users" not in s and "FROM user_teams" not in s]


def test_a_case_page_reads_the_case_once(db: Engine, services: Services, app: Flask) -> None:
    case_id = open_case(services)
    services.cases.complete_task(open_task(services, case_id), DECISION, OPERATOR)
    services.cases.act(case_id, "start_section47", OPERATOR)
    south = open_case(services, team="south", worker="ola",
                      child={"la_child_id": "QX7733", "upn_unknown": "UN1",
                             "birth_date": "2015-06-01", "sex": "F", "ethnicity": "WBRI",
                             "disabilities": ["NONE"]})
    tess = sign_in(app, "tess")
    assert tess.get(f"/cases/{case_id}").status_code == 200  # packs and diagrams read once
    extra = 1 if db.dialect.name == "postgresql" else 0  # no BEGIN IMMEDIATE statement

    with Statements(db) as warm:
        page = tess.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert len(warm.ours()) <= WARM - extra, "\n".join(warm.ours())
    assert sum("FROM cases" in s for s in warm.ours()) == 1, "\n".join(warm.ours())
    assert sum("FROM events" in s for s in warm.ours()) == 1, "\n".join(warm.ours())

    repository = services.cases.cases
    assert isinstance(repository, SqlCaseRepository)
    repository.cache.clear()
    with Statements(db) as cold:
        again = tess.get(f"/cases/{case_id}")
    assert again.status_code == 200
    assert len(cold.ours()) <= COLD - extra, "\n".join(cold.ours())

    with Statements(db) as refused:
        assert tess.get(f"/cases/{south}").status_code == 404
    assert len(refused.ours()) <= NOT_SEEN, "\n".join(refused.ours())
