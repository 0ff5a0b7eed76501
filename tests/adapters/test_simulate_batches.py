"""``carepath simulate`` in batches (issue 11 point 7): children worked out on the in-memory case
store (``adapters.memory_cases``) and written in bulk (``adapters.db.bulk_cases``) leave exactly
the rows that writing every step as it is taken leaves — cases, instances, tasks, events with
their audit chain, the record tables — on SQLite and PostgreSQL; and the ways a batch can fail
write nothing of it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.orm import Session

from carepath.adapters.db import models as m
from carepath.adapters.db.audit import SqlAuditLog
from carepath.adapters.db.bulk_cases import SqlCaseBatches
from carepath.adapters.db.database import upgrade
from carepath.adapters.db.scratch import memory_engine
from carepath.adapters.memory_cases import MemoryCaseRepository
from carepath.adapters.packs import PackRegistry
from carepath.core.errors import ConflictError, NotFoundError, StorageError
from carepath.service import simulation
from carepath.service.audit import AuditService
from carepath.service.simulation import SimulateError, simulate
from carepath.service.stories import StoryRunner
from tests.casework import Casework

CHILDREN = 36
SEED = 404
# Spiff's task ids are random (uuid4), so its states and the task ids in them differ run to run
UNCOMPARABLE = {"spiff_task_id", "state"}
# record rows are matched by their place in the record (the audit does so too), not their id
RECORD_IDS = {"id", "episode_id", "plan_id", "period_id"}
KEEPS_IDS = {"cases", "process_instances", "tasks", "events"}


def _rows(engine: Engine) -> dict[str, list[str]]:
    """Every row of every case table, as comparable text."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            if table.name in ("users", "teams", "user_teams", "api_tokens", "login_failures",
                              "pack_pins", "migration_runs", "migration_cases",
                              "alembic_version"):
                continue
            skip = UNCOMPARABLE | (set() if table.name in KEEPS_IDS else RECORD_IDS)
            rows = conn.execute(select(table)).mappings().all()
            out[table.name] = sorted(
                repr(sorted((k, v) for k, v in row.items() if k not in skip)) for row in rows)
    return out


def _simulate(engine: Engine, pack: str, batched: bool, children: int = CHILDREN,
              seed: int = SEED) -> simulation.SimulationSummary:
    store = Casework(engine, PackRegistry())
    batches = SqlCaseBatches(engine, store.service.cases.upn_holders) if batched else None
    return simulate(store.service, store.packs.get(pack), children, seed, 2026,
                    looked_after=0.4, batches=batches)


@pytest.fixture
def step_by_step() -> Iterator[Engine]:
    engine = memory_engine()
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("pack", ["ics2010", "wt2023"])
def test_batches_leave_the_rows_step_by_step_leaves(db: Engine, step_by_step: Engine,
                                                    pack: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(simulation, "BATCH", 10)  # several batches, the last one short
    batched = _simulate(db, pack, batched=True)
    plain = _simulate(step_by_step, pack, batched=False)
    assert batched.case_ids == plain.case_ids
    assert batched.tasks == plain.tasks > 3 * CHILDREN
    theirs, ours = _rows(step_by_step), _rows(db)
    assert sum(len(r) for r in ours.values()) > 40 * CHILDREN
    for table, rows in theirs.items():
        assert ours[table] == rows, table
    report = AuditService(SqlAuditLog(db)).verify()
    assert report.problems == []


def test_a_batch_goes_on_from_the_ids_in_the_database(db: Engine) -> None:
    first = _simulate(db, "wt2023", batched=False, children=3, seed=1)
    more = _simulate(db, "wt2023", batched=True, children=4, seed=2)
    assert more.case_ids == [max(first.case_ids) + n for n in range(1, 5)]
    assert AuditService(SqlAuditLog(db)).verify().problems == []


def test_a_batch_takes_the_next_ids_when_it_is_written(db: Engine) -> None:
    store = Casework(db, PackRegistry())
    batches = SqlCaseBatches(db)
    with batches.batch() as batch:
        service = type(store.service)(batch.cases, store.packs)
        story = next(iter(simulation.generate_stories(1, 5, 2026)))
        result = StoryRunner(service, store.packs.get("wt2023")).run(story)
        with pytest.raises(NotFoundError, match="not been written"):
            batch.stored_id(result.case_ids[0])
        # someone else opens a case while the batch is worked out
        with db.begin() as conn:
            other = conn.execute(insert(cast(Table, m.CaseRow.__table__)).values(
                la_child_id="OTHER", pack_name="wt2023", pack_version="1.0.0",
                version=0, event_seq=0, head_hash="").returning(m.CaseRow.id)).scalar_one()
    assert batch.stored_id(result.case_ids[0]) == other + 1
    with Session(db) as session:
        assert session.scalars(select(m.CaseRow.la_child_id).order_by(m.CaseRow.id)
                               ).all() == ["OTHER", story["child"]["la_child_id"]]
        completed = session.scalars(select(m.EventRow.payload)
                                    .where(m.EventRow.kind == "task.completed")).all()
        task_ids = set(session.scalars(select(m.TaskRow.id)).all())
    assert completed and all(json.loads(p)["task_id"] in task_ids for p in completed)
    assert AuditService(SqlAuditLog(db)).verify().problems == []


def test_a_batch_that_cannot_be_written_writes_nothing(db: Engine) -> None:
    _simulate(db, "wt2023", batched=True, children=2, seed=8)
    with Session(db) as session:
        before = len(session.scalars(select(m.EventRow.id)).all())
    # the same children again, past the seed check: the database refuses their LA child IDs
    store = Casework(db, PackRegistry())
    with pytest.raises(ConflictError, match="nothing of it was"):
        simulate(store.service, store.packs.get("wt2023"), 2, 8, 2026, looked_after=0.4,
                 batches=SqlCaseBatches(db), check_fresh=False)
    with Session(db) as session:
        assert len(session.scalars(select(m.EventRow.id)).all()) == before
        assert len(session.scalars(select(m.CaseRow.id)).all()) == 2


def test_parts_share_the_children_of_a_seed(db: Engine, step_by_step: Engine) -> None:
    store = Casework(db, PackRegistry())
    pack = store.packs.get("wt2023")
    summaries = [simulate(store.service, pack, 7, 31, 2026, part=k, parts=3, check_fresh=False,
                          batches=SqlCaseBatches(db)) for k in range(3)]
    assert [s.children for s in summaries] == [3, 2, 2]
    whole = _simulate(step_by_step, "wt2023", batched=False, children=7, seed=31)
    assert whole.children == 7
    with Session(db) as session, Session(step_by_step) as other:
        ours = sorted(session.scalars(select(m.CaseRow.la_child_id)).all())
        theirs = sorted(other.scalars(select(m.CaseRow.la_child_id)).all())
    assert ours == theirs and len(ours) == 7
    with pytest.raises(SimulateError, match="no part 3 of 3"):
        simulate(store.service, pack, 7, 31, part=3, parts=3)


def test_a_child_that_cannot_be_recorded_stops_the_run_and_its_batch_is_not_written(
        db: Engine, monkeypatch: Any) -> None:
    monkeypatch.setattr(simulation, "BATCH", 4)
    real = StoryRunner.run
    calls = {"n": 0}

    def run(self: StoryRunner, story: Mapping[str, Any]) -> Any:
        calls["n"] += 1
        if calls["n"] == 7:  # the third child of the second batch
            raise StorageError("the disk is full")
        return real(self, story)

    monkeypatch.setattr(StoryRunner, "run", run)
    with pytest.raises(SimulateError) as caught:
        _simulate(db, "wt2023", batched=True, children=10)
    assert "Nothing of its batch was written: the 4 children before that batch are " \
           "recorded" in str(caught.value)
    with Session(db) as session:
        assert len(session.scalars(select(m.CaseRow.id)).all()) == 4
    assert AuditService(SqlAuditLog(db)).verify().problems == []


def test_the_memory_store_sees_the_upns_the_database_holds() -> None:
    cases = MemoryCaseRepository(lambda upn: ["C1"] if upn == "A1" else [])
    assert cases.upn_holders("A1") == ["C1"]
    assert cases.upn_holders("B2") == []


def test_what_only_the_database_keeps_is_refused_in_memory() -> None:
    cases = MemoryCaseRepository()
    with pytest.raises(StorageError, match="needs the database"):
        cases.record_view(1, "someone")
