"""Issue 11: the queries the SSDA903 return runs, listed and explained. Streaming the children
with a looked-after record is one keyset page of cases (joined to ``looked_after`` and
``children``) and then one range read per looked-after table for the page's case ids; each is an
index search, never a scan of a whole table (apart from the one count for the progress bar).
docs/operations.md lists them with their plans."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from carepath.adapters.db.database import dispose_engine, make_engine, upgrade
from carepath.adapters.db.record_stream import count_looked_after, iter_looked_after
from carepath.adapters.packs import PackRegistry
from carepath.service.simulation import simulate
from tests.casework import Casework

LISTS = ("lac_periods", "lac_legal_statuses", "lac_placements", "lac_reviews", "lac_missing",
         "lac_adoptions", "lac_outcomes", "lac_care_leaver_contacts", "lac_social_workers")


def test_the_903_reads_each_table_by_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = make_engine(url)
    upgrade(engine)
    store = Casework(engine, PackRegistry())
    simulate(store.service, store.packs.get("wt2023"), 8, 5, 2026, looked_after=1.0)
    statements: dict[str, Any] = {}

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             executemany: bool) -> None:
        statements.setdefault(statement, params)

    event.listen(engine, "before_cursor_execute", grab)
    with Session(engine) as session:
        assert count_looked_after(session) == 8
        assert len(list(iter_looked_after(session, batch=3))) == 8
    event.remove(engine, "before_cursor_execute", grab)

    plans: list[tuple[str, str, list[str]]] = []  # (table, statement, plan)
    with engine.connect() as conn:
        for statement, params in statements.items():
            table = re.search(r"\bFROM (\w+)", statement)
            assert table is not None
            plans.append((table.group(1), statement, [str(row[-1]) for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, params).fetchall()]))
    dispose_engine(url)
    assert {table for table, _, _ in plans} == {"looked_after", "cases", *LISTS}
    assert len(plans) == 2 + 1 + len(LISTS)
    for table, statement, plan in plans:
        if statement.startswith("SELECT count(*)"):  # the progress bar's total: one count
            assert plan == ["SCAN looked_after"]
        elif table == "cases":  # the page: keyset on the case id, joined by primary keys
            assert plan == ["SEARCH cases USING INTEGER PRIMARY KEY (rowid>?)",
                            "SEARCH looked_after USING INTEGER PRIMARY KEY (rowid=?)",
                            "SEARCH children USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN"]
        elif table == "looked_after":  # the page's single values
            assert plan == ["SEARCH looked_after USING INTEGER PRIMARY KEY "
                            "(rowid>? AND rowid<?)"]
        else:  # each list, by its (case_id, seq) key
            assert plan == [f"SEARCH {table} USING INDEX sqlite_autoindex_{table}_1 "
                            "(case_id>? AND case_id<?)"], plan
