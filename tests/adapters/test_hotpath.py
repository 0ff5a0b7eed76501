"""The Core hot path (hotpath.py): one SELECT to read, a handful of statements to write."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from carepath.adapters.db import hotpath
from carepath.adapters.db import models as m
from carepath.adapters.db.audit import verify
from carepath.adapters.db.database import dispose_engine, make_engine, upgrade
from carepath.adapters.db.records import load_record
from carepath.adapters.packs import PackRegistry
from carepath.core.errors import ConflictError, NotFoundError
from carepath.core.yamlsource import load_yaml
from carepath.engine.runtime import CaseRuntime, Outcome
from carepath.engine.stories.story import parse_story
from carepath.engine.time.clock import FixedClock, use_clock
from tests.casework import Casework as CaseStore

STORIES = Path(__file__).parents[1] / "stories"
TABLES = [m.CaseRow, m.ChildRow, m.EpisodeRow, m.AssessmentRow, m.Section47Row, m.CPPlanRow,
          m.CPReviewRow, m.CINPlanRow, m.ProcessInstanceRow, m.TaskRow, m.EventRow]


def _with_search_path(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgresql", id="postgresql",
                                     marks=pytest.mark.postgres)])
def two_dbs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two empty, migrated databases of the same kind."""
    urls: list[str] = []
    schemas: list[str] = []
    admin: Engine | None = None
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / f'{name}.db'}" for name in ("orm", "hot")]
    else:
        admin = request.getfixturevalue("postgres_admin")
        base = request.getfixturevalue("postgres_url")
        for _ in range(2):
            schema = f"t_{uuid.uuid4().hex[:16]}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            schemas.append(schema)
            urls.append(_with_search_path(base, schema))
    engines = [make_engine(url) for url in urls]
    for engine in engines:
        upgrade(engine)
    try:
        yield engines[0], engines[1]
    finally:
        for url in urls:
            dispose_engine(url)
        if admin is not None:
            for schema in schemas:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {model.__tablename__: [tuple(r) for r in conn.execute(
            select(model.__table__).order_by(*model.__table__.primary_key.columns))]
            for model in TABLES}


def _story(name: str) -> dict[str, Any]:
    path = STORIES / f"{name}.yaml"
    return parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))


def _replay(store: CaseStore, source_case: int, story: dict[str, Any], pack: str, n: int
            ) -> int:
    """A second case that does, through open_case and complete_task, what the story's case did
    (same referrals, forms, values and times), the way the benchmark drives cases."""
    child = {**story["child"], "la_child_id": f"R{n:05d}"}
    child = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in child.items()}
    case_id = 0
    clock = FixedClock(datetime(2000, 1, 1, tzinfo=UTC))
    with use_clock(clock):
        for e in store.history(source_case):
            clock.set(datetime.fromisoformat(e["at"]))
            if e["kind"] in ("case.opened", "referral.recorded"):
                referral = {k: e["referral"][k] for k in ("date", "source")}
                case_id = store.open_case(pack, child, referral, "replay", worker="sam")
            elif e["kind"] == "task.completed":
                task = next(t for t in store.tasks(case_id=case_id) if t.form == e["form"])
                store.complete_task(task.id, e["values"], "replay")
    return case_id


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STATE_CHANGED = re.compile(r'"last_state_change": [0-9.e+-]+')


def _without_uuids(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """Spiff's task ids are random UUIDs: each becomes its number of first appearance; and the
    time Spiff notes each task state change at (a timestamp of the run) goes."""
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"<uuid {len(names)}>")

    def clean(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return _STATE_CHANGED.sub('"last_state_change": 0', _UUID.sub(name, value))

    return {table: [tuple(clean(v) for v in row) for row in rows]
            for table, rows in tables.items()}


CHILD = {"la_child_id": "C9001", "upn": "C201250001001", "birth_date": "2015-06-01",
         "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]}
REFERRAL = {"date": "2025-05-01", "source": "2A"}


@pytest.fixture
def clock() -> Iterator[FixedClock]:
    c = FixedClock(datetime(2025, 5, 1, 11, tzinfo=UTC))
    with use_clock(c):
        yield c


@pytest.fixture
def store(db: Engine, clock: FixedClock) -> CaseStore:
    return CaseStore(db, PackRegistry())


class Statements:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[str] = []

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._add)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._add)

    def _add(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(" ".join(statement.split())[:60].upper())


def _first_task_values(store: CaseStore, task_id: int) -> dict[str, Any]:
    from carepath.forms.validation import example_values

    task = store.task(task_id)
    return example_values(store.task_pack(task_id).form(task.form or ""))


def test_bundle_is_one_select(store: CaseStore, db: Engine) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester", worker="sam")
    task = store.tasks(case_id=case_id)[0]
    with db.connect() as conn, Statements(db) as seen:
        bundle = hotpath.load_task_bundle(conn, task.id)
        assert hotpath.load_task_bundle(conn, task.id + 1000) is None
    assert len(seen) == 2 and all(s.startswith("SELECT") for s in seen)
    assert bundle is not None
    assert (bundle.task_id, bundle.case_id, bundle.status, bundle.form, bundle.assignee) == \
        (task.id, case_id, "ready", task.form, "sam")
    assert bundle.case_version == 1 and bundle.event_seq == 3 and len(bundle.head_hash) == 64
    assert bundle.la_child_id == "C9001" and bundle.process_id == task.process
    assert bundle.instance_status == "running" and bundle.state.startswith("{")


def test_a_completion_is_a_handful_of_statements(store: CaseStore, db: Engine,
                                                 clock: FixedClock) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    values = _first_task_values(store, task.id)
    clock.set(datetime(2025, 5, 2, 11, tzinfo=UTC))
    with Statements(db) as seen:
        opened = store.complete_task(task.id, values, "tester")
    assert opened
    reads = [s for s in seen if s.startswith("SELECT")]
    writes = [s for s in seen if not s.startswith(("SELECT", "BEGIN"))]
    assert len(reads) == 1, seen  # the bundle (the record came from the cache)
    assert writes[0].startswith("UPDATE CASES SET VERSION"), seen  # the version check first
    assert sum(s.startswith("INSERT INTO EVENTS") for s in writes) == 1, seen
    assert len(writes) <= 8, seen
    with Session(db) as session:
        assert verify(session) == []


def test_a_stale_version_writes_nothing(store: CaseStore, db: Engine, clock: FixedClock) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    values = _first_task_values(store, task.id)
    before = {name: rows for name, rows in _rows(db).items()}
    with db.connect() as conn:
        bundle = hotpath.load_task_bundle(conn, task.id)
        assert bundle is not None
        record = load_record(conn, case_id)
        runtime = CaseRuntime(store.packs.get_version(bundle.pack_name, bundle.pack_version))
        live = runtime.restore(bundle.process_id, bundle.state, bundle.episode_seq,
                               bundle.instance_id)
        from carepath.engine.runtime import TaskRef

        outcome = runtime.complete(record, live, TaskRef(bundle.spiff_task_id, bundle.bpmn_id,
                                                         bundle.form, task.id, bundle.title),
                                   values, None)
        for head in (bundle.head, None):
            with pytest.raises(ConflictError, match="changed since you opened it"), \
                    hotpath.write_transaction(conn):
                hotpath.persist_outcome(conn, case_id, bundle.case_version - 1, record, outcome,
                                        "tester", clock.now(), task.id, head=head)
    assert _rows(db) == before


def test_an_unchanged_instance_is_not_dumped(store: CaseStore, db: Engine,
                                             clock: FixedClock) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    with db.connect() as conn:
        bundle = hotpath.load_task_bundle(conn, task.id)
        assert bundle is not None
        record = load_record(conn, case_id)
    runtime = CaseRuntime(store.packs.get_version(bundle.pack_name, bundle.pack_version))
    live = runtime.restore(bundle.process_id, bundle.state, bundle.episode_seq,
                           bundle.instance_id)

    def no_dump() -> str:
        raise AssertionError("an unchanged instance was dumped")

    live.workflow.dump = no_dump  # type: ignore[method-assign]
    outcome = Outcome(record=record, instances=[live], events=[("note", {"n": 1})])
    with db.connect() as conn, Statements(db) as seen, hotpath.write_transaction(conn):
        assert hotpath.persist_outcome(conn, case_id, bundle.case_version, record, outcome,
                                       "tester", clock.now(), head=bundle.head) == []
    assert not any("PROCESS_INSTANCES" in s for s in seen), seen
    with Session(db) as session:
        assert verify(session) == []
        assert store.history(case_id)[-1]["kind"] == "note"


def test_a_damaged_task_is_reported(store: CaseStore, db: Engine) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    with db.begin() as conn:
        conn.execute(m.ProcessInstanceRow.__table__.update().values(state=None))
    with db.connect() as conn, pytest.raises(NotFoundError, match="damaged"):
        hotpath.load_task_bundle(conn, task.id)


