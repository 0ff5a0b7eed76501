"""Who may see a case, views in the audit trail, the inbox and drafts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from carepath.adapters.app import case_service
from carepath.adapters.db.audit import verify
from carepath.adapters.db.people import SqlPeopleRepository
from carepath.core.errors import NotFoundError, PermissionDeniedError, TaskStateError
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import FormErrors
from carepath.service.cases import CaseService
from carepath.service.people import PeopleService
from carepath.service.types import Actor, InboxQuery, TaskView

OPERATOR = Actor.operator("admin")
NORTH, SOUTH = frozenset({"north"}), frozenset({"south"})
SAM = Actor("sam", frozenset({"social_worker"}), teams=NORTH)
OLA = Actor("ola", frozenset({"social_worker"}), teams=SOUTH)
TESS = Actor("tess", frozenset({"team_manager"}), teams=NORTH)
SIAN = Actor("sian", frozenset({"team_manager"}), teams=SOUTH)
ADA = Actor("ada", frozenset({"administrator"}))
NOBODY = Actor("nobody", frozenset({"social_worker"}))
DECISION = {"nfa": False, "decision_reasons": "Worries about attendance.",
            "primary_need": "N1", "next_step": "assessment"}


def child(n: int) -> dict[str, object]:
    return {"la_child_id": f"C{n:03d}", "upn_unknown": "UN1", "birth_date": "2015-06-01",
            "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]}


@pytest.fixture
def cases(db: Engine) -> Iterator[CaseService]:
    people = PeopleService(SqlPeopleRepository(db),
                           PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for actor in (SAM, OLA, TESS, SIAN, ADA, NOBODY):
        people.add_user(actor.name, actor.name.title(), "a long password", actor.roles,
                        actor.teams)
    with use_clock(FixedClock(datetime(2025, 5, 12, 11, tzinfo=UTC))):
        yield case_service(db)


def open_case(cases: CaseService, n: int, team: str | None, worker: str | None,
              referred: str = "2025-05-12") -> tuple[int, TaskView]:
    opened = cases.open_case("wt2023", child(n), {"date": referred, "source": "2A"},
                             OPERATOR, worker=worker, team=team)
    return opened.case_id, opened.open_tasks[0]


def test_who_sees_a_case(cases: CaseService) -> None:
    north, _ = open_case(cases, 1, "north", None)
    south, _ = open_case(cases, 2, "south", "sam")
    assert cases.may_see(north, SAM) and cases.may_see(north, TESS)
    assert not cases.may_see(north, OLA)
    assert cases.may_see(south, SAM)  # their allocated worker
    assert not cases.may_see(north, ADA)  # administrators do not see cases for being one
    assert cases.may_see(north, OPERATOR)
    assert not cases.may_see(9999, OPERATOR) and not cases.may_see(9999, SAM)
    cases.grant(north, "nobody", TESS)
    assert cases.may_see(north, NOBODY)
    assert cases.history(north)[-1].kind == "case.access_granted"


def test_a_restricted_case_is_seen_only_by_those_named_on_it(
        cases: CaseService, db: Engine) -> None:
    case_id, task = open_case(cases, 1, "north", "sam")
    version = cases.head(case_id).version
    cases.restrict(case_id, ["tess"], TESS)
    assert cases.head(case_id).version == version + 1
    assert cases.history(case_id)[-1].kind == "case.restricted"
    assert cases.history(case_id)[-1].payload == {"names": ["tess"]}
    assert cases.may_see(case_id, TESS) and cases.may_see(case_id, OPERATOR)
    assert not cases.may_see(case_id, SAM)  # team and allocated worker are not enough
    with pytest.raises(NotFoundError, match=f"There is no case {case_id}$"):
        cases.view_case(case_id, SAM)
    with pytest.raises(PermissionDeniedError):
        cases.complete_task(task.id, DECISION, SAM)
    with pytest.raises(PermissionDeniedError):
        cases.claim_task(task.id, SAM)
    assert cases.inbox(InboxQuery(scope="mine"), SAM).total == 0
    assert cases.inbox(InboxQuery(scope="team"), SAM).total == 0
    assert cases.inbox(InboxQuery(scope="team"), TESS).total == 1
    cases.grant(case_id, "sam", TESS)
    assert cases.may_see(case_id, SAM)
    assert cases.inbox(InboxQuery(scope="mine"), SAM).total == 1
    cases.restrict(case_id, ["tess"], OPERATOR)  # the names are replaced
    assert not cases.may_see(case_id, SAM)
    cases.unrestrict(case_id, TESS)
    assert cases.may_see(case_id, SAM)
    assert [h.kind for h in cases.history(case_id)][-4:] == [
        "case.restricted", "case.access_granted", "case.restricted", "case.unrestricted"]
    with Session(db) as session:
        assert verify(session, case_id) == []


def test_only_a_manager_of_the_cases_team_changes_who_sees_it(cases: CaseService) -> None:
    case_id, _ = open_case(cases, 1, "north", "sam")
    version = cases.head(case_id).version
    for actor in (SAM, SIAN, ADA):
        with pytest.raises(PermissionDeniedError):
            cases.restrict(case_id, ["tess"], actor)
        with pytest.raises(PermissionDeniedError):
            cases.grant(case_id, "ola", actor)
        with pytest.raises(PermissionDeniedError):
            cases.unrestrict(case_id, actor)
    with pytest.raises(FormErrors):
        cases.restrict(case_id, [" "], TESS)
    with pytest.raises(NotFoundError, match="no user 'ghost'"):
        cases.grant(case_id, "ghost", TESS)
    with pytest.raises(NotFoundError, match="no user 'ghost'"):
        cases.restrict(case_id, ["tess", "ghost"], TESS)
    with pytest.raises(NotFoundError):
        cases.grant(9999, "ola", OPERATOR)
    assert cases.head(case_id).version == version
    # a manager who restricted the case to others no longer sees it, nor changes it
    cases.restrict(case_id, ["sam"], TESS)
    with pytest.raises(PermissionDeniedError):
        cases.unrestrict(case_id, TESS)


def test_a_view_is_audited_without_moving_the_version(cases: CaseService, db: Engine) -> None:
    case_id, task = open_case(cases, 1, "north", "sam")
    version = cases.head(case_id).version
    view = cases.view_case(case_id, SAM)
    assert view.case_id == case_id and view.version == version
    entry = cases.history(case_id)[-1]
    assert (entry.kind, entry.actor, entry.payload) == ("case.viewed", "sam", {})
    cases.view_case(case_id, TESS)
    assert cases.head(case_id).version == version
    # the version the worker saw still lets them write: a view is no change
    done = cases.complete_task(task.id, DECISION, SAM, expected_version=version)
    assert done.opened
    assert [h.kind for h in cases.history(case_id)].count("case.viewed") == 2
    with Session(db) as session:
        assert verify(session, case_id) == []
    with pytest.raises(NotFoundError, match="There is no case 9999$"):
        cases.view_case(9999, SAM)
    with pytest.raises(NotFoundError, match=f"There is no case {case_id}$"):
        cases.view_case(case_id, OLA)
    with pytest.raises(NotFoundError):
        cases.view_case(case_id, ADA)


def test_a_view_between_reading_and_writing_does_not_break_the_chain(
        cases: CaseService, db: Engine) -> None:
    """The hot path writes the chain head it read with the task; a view moved it since."""
    case_id, task = open_case(cases, 1, "north", "sam")
    live = cases.cases.live_task(task.id)  # reads (and remembers) the chain head
    record = cases.cases.record_at(case_id, live.case_version)
    outcome = cases.completion_outcome(live, record, DECISION)
    cases.view_case(case_id, TESS)
    cases.write_outcome(case_id, live.case_version, record, outcome, SAM, task.id)
    kinds = [h.kind for h in cases.history(case_id)]
    assert kinds.index("case.viewed") < kinds.index("task.completed")
    with Session(db) as session:
        assert verify(session, case_id) == []
    # and the ORM paths (assign, change worker) after a view
    ready = cases.inbox(InboxQuery(scope="team"), TESS).tasks[0]
    cases.view_case(case_id, SAM)
    cases.assign_task(ready.id, "sam", TESS)
    cases.view_case(case_id, SAM)
    cases.change_worker(case_id, "tess", TESS)
    with Session(db) as session:
        assert verify(session, case_id) == []


def test_writes_need_the_case_to_be_visible(cases: CaseService) -> None:
    case_id, task = open_case(cases, 1, "north", None)
    south = Actor("sian", frozenset({"team_manager", "social_worker"}), teams=SOUTH)
    with pytest.raises(PermissionDeniedError, match="may not see case"):
        cases.complete_task(task.id, DECISION, OLA)
    with pytest.raises(PermissionDeniedError):
        cases.claim_task(task.id, OLA)
    with pytest.raises(PermissionDeniedError):
        cases.assign_task(task.id, "ola", south)
    with pytest.raises(PermissionDeniedError):
        cases.change_worker(case_id, "ola", south)
    with pytest.raises(PermissionDeniedError):
        cases.act(case_id, "start_section47", OLA)
    assert cases.task(task.id).status == "ready" and cases.task(task.id).assignee is None
    # the team's worker may
    assert cases.claim_task(task.id, SAM).assignee == "sam"


def test_the_inbox_sorts_filters_and_pages(cases: CaseService) -> None:
    # referrals on different days: the decisions fall due on different days
    made = [open_case(cases, n, team, worker, referred)
            for n, (team, worker, referred) in enumerate([
                ("north", "sam", "2025-05-09"), ("north", None, "2025-05-06"),
                ("north", "sam", "2025-05-12"), ("south", "ola", "2025-05-07"),
                ("south", "sam", "2025-05-08"), (None, "sam", "2025-05-05")])]
    ids = {n: task.id for n, (_, task) in enumerate(made)}
    due = {task.id: task.due for _, task in made}
    mine = cases.inbox(InboxQuery(scope="mine"), SAM)
    assert [t.id for t in mine.tasks] == sorted([ids[0], ids[2], ids[4], ids[5]],
                                                key=lambda i: (due[i] is None, due[i], i))
    assert mine.total == 4 and mine.pages == 1 and mine.page == 1
    team = cases.inbox(InboxQuery(scope="team"), SAM)
    assert {t.id for t in team.tasks} == {ids[0], ids[1], ids[2]}
    assert [t.due for t in team.tasks] == sorted(t.due for t in team.tasks if t.due)
    assert cases.inbox(InboxQuery(scope="team"), OLA).total == 2
    assert cases.inbox(InboxQuery(scope="team"), ADA).total == 0
    assert cases.inbox(InboxQuery(scope="team"), OPERATOR).total == 0  # an operator has no team
    assert cases.inbox(InboxQuery(scope="mine"), Actor.operator("sam")).total == 4
    # filters
    assert cases.inbox(InboxQuery(scope="team", worker="sam"), TESS).total == 2
    assert [t.id for t in cases.inbox(InboxQuery(scope="team", child="C001"), TESS).tasks] \
        == [ids[1]]
    assert cases.inbox(InboxQuery(scope="team", child="C00"), TESS).total == 3
    assert cases.inbox(InboxQuery(scope="team", child="C%"), TESS).total == 0
    assert cases.inbox(InboxQuery(scope="team", stage="referral"), TESS).total == 3
    assert cases.inbox(InboxQuery(scope="team", stage="assessment"), TESS).total == 0
    # pages
    first = cases.inbox(InboxQuery(scope="mine", per_page=3), SAM)
    second = cases.inbox(InboxQuery(scope="mine", per_page=3, page=2), SAM)
    assert first.pages == 2 and len(first.tasks) == 3 and len(second.tasks) == 1
    assert [t.id for t in first.tasks + second.tasks] == [t.id for t in mine.tasks]
    assert cases.inbox(InboxQuery(scope="mine", page=5), SAM).tasks == []
    page = first.as_json()
    assert page["total"] == 4 and page["pages"] == 2
    assert isinstance(page["tasks"], list) and "due_this_week" in page["tasks"][0]  # type: ignore[operator]
    for bad in (InboxQuery(page=0), InboxQuery(per_page=0), InboxQuery(per_page=101),
                InboxQuery(scope="everyone")):  # type: ignore[arg-type]
        with pytest.raises(FormErrors):
            cases.inbox(bad, SAM)


def test_due_this_week() -> None:
    def task(due: date | None, status: str = "ready") -> TaskView:
        return TaskView(1, 1, "C1", "T", None, None, None, due, status, "p", "b",
                        datetime(2025, 5, 1, tzinfo=UTC))

    with use_clock(FixedClock(datetime(2025, 5, 12, 11, tzinfo=UTC))):
        assert task(date(2025, 5, 12)).due_this_week
        assert task(date(2025, 5, 19)).due_this_week
        assert not task(date(2025, 5, 20)).due_this_week
        assert not task(date(2025, 5, 11)).due_this_week  # overdue instead
        assert task(date(2025, 5, 11)).overdue
        assert not task(None).due_this_week
        assert not task(date(2025, 5, 13), "completed").due_this_week


def test_drafts_are_personal_and_go_when_the_task_is_done(cases: CaseService) -> None:
    case_id, task = open_case(cases, 1, "north", "sam")
    assert cases.draft(task.id, SAM) is None
    cases.save_draft(task.id, {"decision_reasons": "Half written", "nfa": False}, SAM)
    cases.save_draft(task.id, {"decision_reasons": "Still half written"}, SAM)
    assert cases.draft(task.id, SAM) == {"decision_reasons": "Still half written"}
    manager = Actor("tess", frozenset({"team_manager", "social_worker"}), teams=NORTH)
    assert cases.draft(task.id, manager) is None
    cases.save_draft(task.id, {"when": date(2025, 5, 1)}, manager)  # type: ignore[dict-item]
    assert cases.draft(task.id, manager) == {"when": "2025-05-01"}
    with pytest.raises(PermissionDeniedError):
        cases.save_draft(task.id, {}, OLA)
    with pytest.raises(PermissionDeniedError):
        cases.draft(task.id, OLA)
    with pytest.raises(FormErrors):
        cases.save_draft(task.id, {"x": object()}, SAM)  # type: ignore[dict-item]
    with pytest.raises(FormErrors):
        cases.save_draft(task.id, {"x": float("nan")}, SAM)
    with pytest.raises(NotFoundError):
        cases.save_draft(9999, {}, SAM)
    version = cases.head(case_id).version
    assert cases.head(case_id).version == version  # a draft is no change to the case
    cases.complete_task(task.id, DECISION, SAM)
    assert cases.draft(task.id, SAM) is None
    assert cases.draft(task.id, manager) is None
    with pytest.raises(TaskStateError):
        cases.save_draft(task.id, {"nfa": True}, SAM)


def test_a_case_page_is_what_the_separate_reads_give(cases: CaseService, db: Engine) -> None:
    case_id, task = open_case(cases, 1, "north", "sam")
    cases.complete_task(task.id, DECISION, SAM)
    cases.act(case_id, "start_section47", SAM)
    page = cases.case_page(case_id, TESS, "all")
    # the view is recorded once, and the page shows it
    history = cases.history(case_id)
    assert [h.kind for h in history].count("case.viewed") == 1
    assert page.view == cases.case_view(case_id)
    assert page.view.history == history and history[-1].actor == "tess"
    assert page.actions == cases.actions(case_id, TESS)
    assert page.maps == cases.process_maps(case_id)
    assert page.chronology == cases.chronology(case_id, TESS, "all")
    assert page.chronology[0].kind == "case.viewed"
    assert page.audit.intact and page.audit.notes == []
    with pytest.raises(NotFoundError, match=f"There is no case {case_id}$"):
        cases.case_page(case_id, OLA)
    with pytest.raises(NotFoundError, match="There is no case 9999$"):
        cases.case_page(9999, TESS)
    assert [h.kind for h in cases.history(case_id)].count("case.viewed") == 1
    with Session(db) as session:
        assert verify(session, case_id) == []


@pytest.mark.parametrize("disturbed", [1, 2])
def test_a_case_changed_while_its_page_is_read_is_read_again(
        cases: CaseService, db: Engine, monkeypatch: pytest.MonkeyPatch, disturbed: int) -> None:
    """Someone views (or changes) the case between the page's read and its view: the page
    reads again (after two such tries, with the case row locked), and shows the case as it is
    with both views in its history, the chain whole."""
    from carepath.adapters.db import case_file

    case_id, task = open_case(cases, 1, "north", "sam")
    read = case_file._read
    tries: list[bool] = []

    def racing(*args: object, **kwargs: object) -> object:
        found = read(*args, **kwargs)  # type: ignore[arg-type]
        tries.append(bool(kwargs["lock"]))
        if len(tries) <= disturbed:  # another view lands before this one is written
            cases.cases.record_view(case_id, "sam")
        return found

    monkeypatch.setattr(case_file, "_read", racing)
    page = cases.case_page(case_id, TESS)
    assert tries == {1: [False, False], 2: [False, False, True]}[disturbed]
    history = cases.history(case_id)
    assert [(h.kind, h.actor) for h in history[-disturbed - 1:]] == (
        [("case.viewed", "sam")] * disturbed + [("case.viewed", "tess")])
    assert page.view.history == history
    assert page.audit.intact
    with Session(db) as session:
        assert verify(session, case_id) == []
