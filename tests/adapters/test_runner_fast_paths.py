"""The story runner's shortcuts change nothing it records (issue 11 point 7, simulation speed):

* ``engine.spiff_tree`` walks a workflow's task tree with its own iterator for the plain queries
  the engine makes (a state mask, manual or not) and for the waiting tasks it updates after
  every task: it yields exactly what SpiffWorkflow's ``BpmnTaskIterator`` (``TaskIterator``
  for the waiting tasks) yields, in the same order;
* the runner takes the workflow its last write left instead of restoring it from its state:
  the events it writes are exactly those of restoring every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState
from sqlalchemy import Engine, select

from carepath.adapters.db import models as m
from carepath.adapters.db.database import upgrade
from carepath.adapters.db.scratch import memory_engine
from carepath.adapters.packs import PackRegistry
from carepath.engine import spiff_tree
from carepath.service.simulation import simulate
from carepath.service.stories import StoryRunner
from tests.casework import Casework

PACKS = ["ics2010", "wt2023"]


@pytest.fixture
def engine() -> Iterator[Engine]:
    found = memory_engine()
    upgrade(found)
    yield found
    found.dispose()


def _events(engine: Engine, pack: str) -> list[tuple[Any, ...]]:
    store = Casework(engine, PackRegistry())
    simulate(store.service, store.packs.get(pack), 25, 77, 2026, looked_after=0.5)
    e = m.EventRow
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(e.case_id, e.seq, e.at, e.actor, e.kind, e.payload, e.hash)
            .order_by(e.case_id, e.seq))]


@pytest.mark.parametrize("pack", PACKS)
def test_the_tree_walk_yields_what_spiffs_iterator_yields(engine: Engine, pack: str,
                                                          monkeypatch: Any) -> None:
    calls = {"plain": 0}
    ours = spiff_tree.DeepIteration.get_tasks_iterator

    def compared(self: Any, first_task: Any = None, **kwargs: Any) -> Any:
        found = list(ours(self, first_task, **kwargs))
        if kwargs.keys() <= spiff_tree.PLAIN_FILTER:
            calls["plain"] += 1
            spiffs = BpmnTaskIterator(first_task or self.task_tree,
                                      max_depth=spiff_tree.MAX_DEPTH, **kwargs)
            assert [t.id for t in found] == [t.id for t in spiffs], kwargs
        return iter(found)

    def waiting_compared(self: Any) -> None:
        calls["waiting"] += 1
        spiffs = [t.id for t in TaskIterator(self.task_tree, state=TaskState.WAITING)]
        found = [t.id for t in spiff_tree.tasks_in_tree_order(
            self, self.task_tree, TaskState.WAITING, None, into_called=False)]
        assert found == spiffs
        ours_waiting(self)

    calls["waiting"] = 0
    ours_waiting = spiff_tree.DeepIteration.update_waiting_tasks
    monkeypatch.setattr(spiff_tree.DeepIteration, "get_tasks_iterator", compared)
    monkeypatch.setattr(spiff_tree.DeepIteration, "update_waiting_tasks", waiting_compared)
    _events(engine, pack)
    assert calls["plain"] > 1000 and calls["waiting"] > 1000


@pytest.mark.parametrize("pack", PACKS)
def test_taking_the_workflow_left_by_the_last_write_changes_nothing(
        engine: Engine, pack: str, monkeypatch: Any) -> None:
    warm = _events(engine, pack)
    cold_engine = memory_engine()
    upgrade(cold_engine)

    def restore_always(self: StoryRunner, runtime: Any, live: Any) -> Any:
        return runtime.restore(live.process_id, live.state, live.episode_seq, live.instance_id)

    monkeypatch.setattr(StoryRunner, "_instance", restore_always)
    cold = _events(cold_engine, pack)
    cold_engine.dispose()
    assert len(warm) > 500
    assert warm == cold
