"""Pack actions through the application service: roles, availability, one audited write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carepath.adapters.app import case_service
from carepath.adapters.db.audit import verify
from carepath.core.errors import ActionUnavailableError, ConflictError, PermissionDeniedError
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.service.cases import CaseService
from carepath.service.types import Actor, TaskFilter

CHILD = {"la_child_id": "A1", "upn": "C201250001001", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}
REFERRAL = {"date": "2025-05-01", "source": "2A"}
OPERATOR = Actor.operator("admin")
NORTH = frozenset({"north"})
SAM = Actor("sam", frozenset({"social_worker"}), teams=NORTH)
CLERK = Actor("casey", frozenset(), teams=NORTH)
NEXT_STEP = {"wt2023": "assessment", "ics2010": "initial_assessment"}


@pytest.fixture
def cases(db: Engine) -> Iterator[CaseService]:
    with use_clock(FixedClock(datetime(2025, 5, 2, 11, tzinfo=UTC))):
        yield case_service(db)


def open_assessment(cases: CaseService, pack: str) -> int:
    """A case whose referral decision chose an assessment."""
    opened = cases.open_case(pack, CHILD, REFERRAL, OPERATOR, worker="sam", team="north")
    decision = opened.open_tasks[0]
    done = cases.complete_task(decision.id, {
        "nfa": False, "decision_reasons": "Worries about attendance.", "primary_need": "N1",
        "next_step": NEXT_STEP[pack]}, SAM)
    assert done.opened, "the referral decision should open the assessment"
    return opened.case_id


@pytest.mark.parametrize("pack", ["wt2023", "ics2010"])
def test_a_strategy_discussion_starts_alongside_an_open_assessment(
        cases: CaseService, db: Engine, pack: str) -> None:
    case_id = open_assessment(cases, pack)
    before = {t.id for t in cases.tasks(TaskFilter(case_id=case_id))}
    names = [a.name for a in cases.actions(case_id, SAM)]
    assert "start_section47" in names
    assert "close_case" not in names  # a team manager's
    version = cases.head(case_id).version
    taken = cases.act(case_id, "start_section47", SAM, expected_version=version)
    assert [t.bpmn_id for t in taken.opened] == ["strategy_discussion"]
    assert taken.as_json()["action"] == "start_section47"
    ready = cases.tasks(TaskFilter(case_id=case_id))
    assert before < {t.id for t in ready}
    assert {t.process for t in ready} == {"referral", "section47"}
    assert cases.head(case_id).version == version + 1
    kinds = [h.kind for h in cases.history(case_id)]
    assert "action.taken" in kinds
    with Session(db) as session:
        assert verify(session, case_id) == []
    # its process is running now: not offered again
    assert "start_section47" not in [a.name for a in cases.actions(case_id, SAM)]
    with pytest.raises(ActionUnavailableError):
        cases.act(case_id, "start_section47", SAM)


def test_an_unavailable_action_writes_nothing(cases: CaseService) -> None:
    case_id = open_assessment(cases, "wt2023")
    cases.act(case_id, "start_section47", SAM)
    version = cases.head(case_id).version
    history = len(cases.history(case_id))
    with pytest.raises(ActionUnavailableError, match="is not available on this case now"):
        cases.act(case_id, "start_section47", SAM)
    assert cases.head(case_id).version == version
    assert len(cases.history(case_id)) == history


def test_the_actor_needs_the_actions_role(cases: CaseService) -> None:
    case_id = open_assessment(cases, "wt2023")
    assert cases.actions(case_id, CLERK) == []
    with pytest.raises(PermissionDeniedError, match="'social_worker'"):
        cases.act(case_id, "start_section47", CLERK)
    with pytest.raises(PermissionDeniedError, match="'team_manager'"):
        cases.act(case_id, "close_case", SAM)


def test_a_stale_version_is_refused(cases: CaseService) -> None:
    case_id = open_assessment(cases, "wt2023")
    with pytest.raises(ConflictError):
        cases.act(case_id, "start_section47", SAM,
                  expected_version=cases.head(case_id).version - 1)


def test_the_first_task_can_be_completed_with_the_action(cases: CaseService,
                                                          db: Engine) -> None:
    case_id = open_assessment(cases, "wt2023")
    taken = cases.act(case_id, "close_case", OPERATOR, data={
        "closure_date": "2025-05-02", "closure_reason": "RC8",
        "closing_summary": "No further help needed."})
    assert taken.opened == []
    record = cases.record(case_id)
    assert record.episodes[-1].closure_date == date(2025, 5, 2)
    assert cases.tasks(TaskFilter(case_id=case_id)) == []
    done = cases.tasks(TaskFilter(case_id=case_id, status="completed"))
    assert [t.bpmn_id for t in done][-1:] == ["record_closure"]
    assert cases.actions(case_id, OPERATOR) == []
    with Session(db) as session:
        assert verify(session, case_id) == []


@pytest.mark.parametrize("pack_name", ["ics2010", "wt2023"])
def test_change_worker_is_an_action_a_manager_takes(db: Engine, pack_name: str) -> None:
    from carepath.adapters.app import case_service
    from carepath.core.errors import PermissionDeniedError
    from carepath.forms.validation import FormErrors
    from carepath.service.types import Actor

    cases = case_service(db)
    manager = Actor("morgan", frozenset({"team_manager"}), teams=NORTH)
    worker = Actor("sam", frozenset({"social_worker"}), teams=NORTH)
    child = {**CHILD, "la_child_id": f"W{pack_name}"}
    with use_clock(FixedClock(datetime(2025, 5, 1, 11, tzinfo=UTC))):
        opened = cases.open_case(pack_name, child, {"date": "2025-05-01", "source": "2A"},
                                 Actor.operator("admin"), worker="sam",
                                 team="north")
        case_id = opened.case_id
        assert "change_worker" in [a.name for a in cases.actions(case_id, manager)]
        assert "change_worker" not in [a.name for a in cases.actions(case_id, worker)]
        with pytest.raises(PermissionDeniedError):
            cases.act(case_id, "change_worker", worker, {"worker": "alex"})
        with pytest.raises(FormErrors):
            cases.act(case_id, "change_worker", manager, {})
        taken = cases.act(case_id, "change_worker", manager, {"worker": "alex"})
    assert [t.assignee for t in taken.opened] == ["alex"]
    assert cases.head(case_id).worker == "alex"
    assert any(h.kind == "case.worker_changed" for h in cases.history(case_id))
