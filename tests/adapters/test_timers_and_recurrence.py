"""Timers run on the engine's clock; recurring reviews keep each process instance small."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import carepath
from carepath.adapters.db import models as m
from carepath.adapters.packs import PackRegistry
from carepath.core.yamlsource import load_yaml
from carepath.engine.stories.story import parse_story
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.service.stories import StoryRunner
from tests.casework import Casework as CaseStore

TIMER_PACK = Path(__file__).parents[1] / "packs" / "timer_pack"
CHILD = {"la_child_id": "T1", "upn": "C201250001001", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}


def test_timer_fires_only_when_due(db: Engine) -> None:
    registry = PackRegistry([TIMER_PACK])
    store = CaseStore(db, registry)
    start = datetime(2025, 5, 1, 10, tzinfo=UTC)
    with use_clock(FixedClock(start)):
        case_id = store.open_case("timer-test", CHILD, {"date": "2025-05-01", "source": "2A"},
                                  "tester")
        task = store.tasks(case_id=case_id)[0]
        assert store.complete_task(task.id, {"note": "seen"}, "tester") == []
    assert store.tasks(case_id=case_id) == []
    assert store.run_timers(datetime(2025, 5, 7, 10, tzinfo=UTC)) == 0
    assert store.tasks(case_id=case_id) == []
    assert store.run_timers(datetime(2025, 5, 8, 11, tzinfo=UTC)) == 1
    assert [t.title for t in store.tasks(case_id=case_id)] == ["Follow-up visit"]
    assert store.run_timers(datetime(2025, 6, 1, tzinfo=UTC)) == 0


def test_each_review_is_its_own_small_instance(db: Engine) -> None:
    path = Path(carepath.__file__).parent / "stories" / "cp_reviews.yaml"
    story = parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))
    store = CaseStore(db, PackRegistry())
    StoryRunner(store.service, store.packs.get("wt2023")).run(story)
    with Session(db) as session:
        reviews = session.scalars(
            select(m.ProcessInstanceRow).where(m.ProcessInstanceRow.process_id == "cp_review")
        ).all()
        running = session.scalar(select(func.count()).select_from(m.ProcessInstanceRow)
                                 .where(m.ProcessInstanceRow.status == "running"))
    assert len(reviews) >= 2  # one instance per review cycle, not one growing loop
    sizes = [len(r.state or "") for r in reviews]
    assert max(sizes) < 3 * min(sizes)
    assert running is not None and running <= 2


def test_closing_the_episode_stops_its_running_work(db: Engine) -> None:
    registry = PackRegistry([Path(__file__).parents[1] / "packs" / "closing_pack"])
    store = CaseStore(db, registry)
    with use_clock(FixedClock(datetime(2025, 5, 1, 10, tzinfo=UTC))):
        case_id = store.open_case("closing-test", CHILD, {"date": "2025-05-01", "source": "2A"},
                                  "tester")
        task = store.tasks(case_id=case_id)[0]
        store.complete_task(task.id, {"closed": "2025-05-01", "reason": "RC7"}, "tester")
    with Session(db) as session:
        statuses = session.scalars(select(m.ProcessInstanceRow.status)
                                   .where(m.ProcessInstanceRow.case_id == case_id)).all()
    assert statuses == ["cancelled"]
    # the month's wait is over, but the closed episode's visit never comes
    assert store.run_timers(datetime(2025, 7, 1, tzinfo=UTC)) == 0
    assert store.tasks(case_id=case_id) == []
    assert any(e["kind"] == "process.cancelled" for e in store.history(case_id))
