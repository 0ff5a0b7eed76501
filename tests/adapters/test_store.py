"""The case store on real databases: opening cases, completing tasks, races, audit."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from carepath.adapters.db import models as m
from carepath.adapters.db.audit import verify
from carepath.adapters.packs import PackRegistry
from carepath.core.errors import ConflictError, RecordError, TaskStateError
from carepath.engine import runtime as runtime_module
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import FormErrors
from tests.casework import Casework as CaseStore

CHILD = {"la_child_id": "C9001", "upn": "C201250001001", "birth_date": "2015-06-01",
         "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]}
REFERRAL = {"date": "2025-05-01", "source": "2A"}


@pytest.fixture
def clock() -> Any:
    c = FixedClock(datetime(2025, 5, 1, 11, tzinfo=UTC))
    with use_clock(c):
        yield c


@pytest.fixture
def store(db: Engine, clock: FixedClock) -> CaseStore:
    return CaseStore(db, PackRegistry())


@pytest.mark.parametrize("pack_name", ["ics2010", "wt2023"])
def test_open_case_gives_a_referral_decision_due_next_working_day(store: CaseStore,
                                                                  pack_name: str) -> None:
    case_id = store.open_case(pack_name, CHILD, REFERRAL, "tester", worker="sam")
    tasks = store.tasks(case_id=case_id)
    assert len(tasks) == 1
    assert tasks[0].due == date(2025, 5, 2)  # Thursday 1 May -> Friday 2 May
    assert tasks[0].assignee == "sam"
    assert not tasks[0].overdue


def test_bad_child_changes_nothing(store: CaseStore) -> None:
    with pytest.raises(FormErrors) as caught:
        store.open_case("wt2023", {**CHILD, "sex": "X", "upn": "C201250001002"},
                        REFERRAL, "tester")
    fields = {e.field for e in caught.value.errors}
    assert {"child.sex", "child.upn"} <= fields
    assert store.list_cases() == []


def test_second_referral_for_a_known_child_is_a_new_episode(store: CaseStore,
                                                            clock: FixedClock) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    form = store.task_pack(task.id).form(task.form or "")
    values = {f.name: f.example for f in form.fields if f.example is not None}
    # an open episode must be closed before another referral
    with pytest.raises(Exception, match="open episode"):
        store.open_case("wt2023", CHILD, {"date": "2025-05-01", "source": "6"}, "tester")
    assert values  # the form has examples to complete it with


def test_a_re_referral_with_changed_details_is_in_the_history(store: CaseStore,
                                                               clock: FixedClock) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    store.complete_task(task.id, {"nfa": True, "decision_reasons": "Advice given",
                                  "closure_date": "2025-05-01", "closure_reason": "RC7"},
                        "tester")
    clock.set(datetime(2025, 6, 2, 11, tzinfo=UTC))
    # overlapping the first episode (DfE rule 8820): refused, nothing recorded
    with pytest.raises(RecordError, match="8820"):
        store.open_case("wt2023", CHILD, {"date": "2025-04-30", "source": "6"}, "tester")
    store.open_case("wt2023", {**CHILD, "birth_date": "2015-07-01", "sex": "M"},
                    {"date": "2025-06-02", "source": "6"}, "tester")
    [changed] = [e for e in store.history(case_id) if e["kind"] == "child.details_changed"]
    assert changed["changes"] == [
        {"item": "child.birth_date", "before": "2015-06-01", "after": "2015-07-01"},
        {"item": "child.sex", "before": "F", "after": "M"}]
    assert store.record(case_id).child.sex == "M"
    with Session(store.engine) as session:
        assert verify(session) == []  # the history's hash chain holds the new event


def test_completion_validates_and_changes_nothing_on_error(store: CaseStore) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    before = store.case_detail(case_id)
    with pytest.raises(FormErrors):
        store.complete_task(task.id, {}, "tester")
    assert store.case_detail(case_id) == before


def _example_values(store: CaseStore, task_id: int) -> dict[str, Any]:
    task = store.task(task_id)
    form = store.task_pack(task_id).form(task.form or "")
    from carepath.forms.validation import example_values

    return example_values(form)


def test_completed_task_cannot_be_completed_again(store: CaseStore, clock: FixedClock) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    clock.set(datetime(2025, 7, 1, 11, tzinfo=UTC))
    store.complete_task(task.id, _example_values(store, task.id), "tester")
    with pytest.raises(TaskStateError):
        store.complete_task(task.id, _example_values(store, task.id), "tester")
    with Session(store.engine) as session:
        assert verify(session) == []


def test_two_racing_completions_exactly_one_wins(store: CaseStore, clock: FixedClock,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = store.open_case("wt2023", CHILD, REFERRAL, "tester")
    task = store.tasks(case_id=case_id)[0]
    clock.set(datetime(2025, 7, 1, 11, tzinfo=UTC))
    values = _example_values(store, task.id)
    barrier = threading.Barrier(2, timeout=20)
    real_complete = runtime_module.CaseRuntime.complete

    def complete_after_both_read(self: Any, *args: Any, **kwargs: Any) -> Any:
        outcome = real_complete(self, *args, **kwargs)
        barrier.wait()  # both transactions have read the case before either writes
        return outcome

    monkeypatch.setattr(runtime_module.CaseRuntime, "complete", complete_after_both_read)
    results: list[Any] = []

    def attempt() -> None:
        with use_clock(clock):
            try:
                store.complete_task(task.id, values, "racer")
                results.append("won")
            except ConflictError as exc:
                results.append(exc)
            except Exception as exc:  # noqa: BLE001
                results.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results.count("won") == 1, results
    loser = next(r for r in results if r != "won")
    assert isinstance(loser, ConflictError | TaskStateError), loser
    assert "changed since you opened it" in str(loser) or isinstance(loser, TaskStateError)
    with Session(store.engine) as session:
        completed = session.scalar(select(func.count()).select_from(m.TaskRow)
                                   .where(m.TaskRow.status == "completed"))
        assert completed == 1
        assert verify(session) == []
