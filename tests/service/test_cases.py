"""The application service: who may do a task, claiming and assigning, the version a user saw."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from carepath.adapters.app import case_service
from carepath.adapters.db.record_cache import RecordCache
from carepath.core.errors import ConflictError, PermissionDeniedError
from carepath.engine.record.case_record import CaseRecord
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.service.cases import CaseService
from carepath.service.types import Actor, TaskFilter

CHILD = {"la_child_id": "S1", "upn": "C201250001001", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}
REFERRAL = {"date": "2025-05-01", "source": "2A"}
OPERATOR = Actor.operator("admin")
NORTH = frozenset({"north"})
SAM = Actor("sam", frozenset({"social_worker"}), teams=NORTH)
ALEX = Actor("alex", frozenset({"social_worker"}), teams=NORTH)
MANAGER = Actor("morgan", frozenset({"team_manager", "social_worker"}), teams=NORTH)
CLERK = Actor("casey", frozenset(), teams=NORTH)


@pytest.fixture
def cases(db: Engine) -> Iterator[CaseService]:
    with use_clock(FixedClock(datetime(2025, 5, 1, 11, tzinfo=UTC))):
        yield case_service(db)


def _first_task(cases: CaseService, worker: str | None) -> tuple[int, int]:
    opened = cases.open_case("wt2023", CHILD, REFERRAL, OPERATOR, worker=worker, team="north")
    return opened.case_id, opened.open_tasks[0].id


def test_a_task_is_refused_to_someone_without_its_role(cases: CaseService) -> None:
    _, task_id = _first_task(cases, worker=None)
    role = cases.task(task_id).role
    assert role is not None
    with pytest.raises(PermissionDeniedError, match=role):
        cases.complete_task(task_id, {}, CLERK)
    assert cases.task(task_id).status == "ready"


def test_a_task_assigned_to_someone_else_is_refused_unless_you_manage(
        cases: CaseService) -> None:
    _, task_id = _first_task(cases, worker="sam")
    assert cases.task(task_id).assignee == "sam"
    with pytest.raises(PermissionDeniedError, match="assigned to sam"):
        cases.complete_task(task_id, {}, ALEX)
    with pytest.raises(PermissionDeniedError):
        cases.claim_task(task_id, ALEX)


def test_claim_and_assign_are_recorded_and_bump_the_version(cases: CaseService) -> None:
    case_id, task_id = _first_task(cases, worker=None)
    if cases.task(task_id).role != "social_worker":
        pytest.skip("the first task is not a social worker's")
    version = cases.head(case_id).version
    assert cases.claim_task(task_id, SAM).assignee == "sam"
    assert cases.head(case_id).version == version + 1
    with pytest.raises(PermissionDeniedError, match="Only a manager"):
        cases.assign_task(task_id, "alex", SAM)
    assert cases.assign_task(task_id, "alex", MANAGER).assignee == "alex"
    assert cases.tasks(TaskFilter(assignee="alex"))[0].id == task_id
    kinds = [(h.kind, h.actor, h.payload.get("to")) for h in cases.history(case_id)]
    assert ("task.assigned", "sam", "sam") in kinds
    assert ("task.assigned", "morgan", "alex") in kinds


def test_a_stale_version_is_a_conflict_and_changes_nothing(cases: CaseService) -> None:
    case_id, task_id = _first_task(cases, worker=None)
    seen = cases.head(case_id).version
    cases.claim_task(task_id, OPERATOR)  # someone else changed the case meanwhile
    with pytest.raises(ConflictError, match="changed since you opened it"):
        cases.complete_task(task_id, {}, OPERATOR, expected_version=seen)
    assert cases.task(task_id).status == "ready"


def test_the_record_cache_is_safe_across_threads() -> None:
    cache = RecordCache(size=8)
    records = [CaseRecord(child=None) for _ in range(16)]  # type: ignore[arg-type]
    problems: list[str] = []

    def work(offset: int) -> None:
        for i in range(2_000):
            case_id = (i + offset) % 16
            cache.put(case_id, i, records[case_id])
            hit = cache.get(case_id, i)
            if hit is not None and hit is not records[case_id]:
                problems.append(f"case {case_id} gave another case's record")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    assert len(cache) <= 8


def test_two_children_cannot_share_a_upn(cases: CaseService) -> None:
    from carepath.forms.validation import FormErrors

    cases.open_case("wt2023", CHILD, REFERRAL, OPERATOR, team="north")
    with pytest.raises(FormErrors) as refused:
        cases.open_case("wt2023", {**CHILD, "la_child_id": "S2"}, REFERRAL, OPERATOR)
    assert "1520" in str(refused.value.errors[0].message)
    assert [c.la_child_id for c in cases.list_cases()] == ["S1"]
