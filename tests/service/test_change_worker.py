"""Changing a case's allocated worker: audited, open tasks move, new tasks follow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carepath.adapters.app import case_service
from carepath.adapters.db.audit import verify
from carepath.core.errors import ConflictError, PermissionDeniedError
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import FormErrors
from carepath.service.cases import CaseService
from carepath.service.types import Actor, TaskFilter

CHILD = {"la_child_id": "W1", "upn": "C201250001001", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}
REFERRAL = {"date": "2025-05-01", "source": "2A"}
OPERATOR = Actor.operator("admin")
NORTH = frozenset({"north"})
MANAGER = Actor("tia", frozenset({"team_manager"}), teams=NORTH)
SAM = Actor("sam", frozenset({"social_worker"}), teams=NORTH)
ALEX = Actor("alex", frozenset({"social_worker"}), teams=NORTH)
NEXT_STEP = {"wt2023": "assessment", "ics2010": "initial_assessment"}


@pytest.fixture
def cases(db: Engine) -> Iterator[CaseService]:
    with use_clock(FixedClock(datetime(2025, 5, 2, 11, tzinfo=UTC))):
        yield case_service(db)


@pytest.mark.parametrize("pack", ["wt2023", "ics2010"])
def test_the_new_worker_gets_open_and_new_tasks(cases: CaseService, db: Engine,
                                                pack: str) -> None:
    opened = cases.open_case(pack, CHILD, REFERRAL, OPERATOR, worker="sam", team="north")
    decision = opened.open_tasks[0]
    assert decision.assignee == "sam"
    version = cases.head(opened.case_id).version
    moved = cases.change_worker(opened.case_id, "alex", MANAGER, expected_version=version)
    assert [t.id for t in moved] == [decision.id]
    assert cases.task(decision.id).assignee == "alex"
    head = cases.head(opened.case_id)
    assert head.worker == "alex" and head.version == version + 1
    entry = cases.history(opened.case_id)[-1]
    assert entry.kind == "case.worker_changed" and entry.actor == "tia"
    assert entry.payload["from"] == "sam" and entry.payload["to"] == "alex"
    assert entry.payload["tasks"] == [{"task_id": decision.id, "title": decision.title}]
    with Session(db) as session:
        assert verify(session, opened.case_id) == []
    # the new worker completes the task; what it opens for the case worker is theirs
    done = cases.complete_task(decision.id, {
        "nfa": False, "decision_reasons": "Worries about attendance.", "primary_need": "N1",
        "next_step": NEXT_STEP[pack]}, ALEX)
    assert done.opened and {t.assignee for t in done.opened} == {"alex"}
    assert all(t.assignee != "sam" for t in cases.tasks(TaskFilter(case_id=opened.case_id)))


def test_only_a_manager_changes_the_worker_and_nothing_is_written_otherwise(
        cases: CaseService) -> None:
    opened = cases.open_case("wt2023", CHILD, REFERRAL, OPERATOR, worker="sam", team="north")
    version = cases.head(opened.case_id).version
    with pytest.raises(PermissionDeniedError):
        cases.change_worker(opened.case_id, "alex", SAM)
    with pytest.raises(FormErrors):
        cases.change_worker(opened.case_id, "  ", MANAGER)
    with pytest.raises(ConflictError):
        cases.change_worker(opened.case_id, "alex", MANAGER, expected_version=version - 1)
    assert cases.head(opened.case_id).version == version
    assert cases.head(opened.case_id).worker == "sam"
