"""Changing the process under live cases: versions side by side, moving running cases to a new
version of their pack (Spiff diff/migrate) or to another pack (replayed from the record), dry
runs, undo, and the audit chain after both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

import carepath
from carepath.adapters.app import migration_service, services_for
from carepath.adapters.db.scratch import MemoryDatabases
from carepath.adapters.packs import PackRegistry
from carepath.core.errors import CarepathError
from carepath.engine.record.case_record import record_to_story
from carepath.service.cases import CaseService
from carepath.service.stories import StoryRunner
from carepath.service.types import Actor, TaskFilter
from tests.halfway import half_way

MOVES = Path(__file__).parents[1] / "packs" / "moves"
STORIES = sorted((Path(carepath.__file__).parent / "stories").glob("*.yaml"))
CHILD = {"la_child_id": "M1", "upn": "C201250001001", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}
OPERATOR = Actor.operator("admin")


def _registry(*versions: str) -> PackRegistry:
    return PackRegistry([MOVES / v for v in versions])


def _waiting_at_check(db: Engine, registry: PackRegistry) -> tuple[Any, int]:
    """A case of moves-test 1.0.0 that has done 'decide' and waits at 'check'."""
    services = services_for(db, registry)
    registry.pin("moves-test", "1.0.0")
    case_id = services.cases.open_case("moves-test", CHILD, {"date": "2025-05-01",
                                                             "source": "2A"},
                                       OPERATOR, worker="sam").case_id
    first = services.cases.tasks(TaskFilter(case_id=case_id))
    services.cases.complete_task(first[0].id, {"nfa": True}, OPERATOR)
    registry.pin("moves-test", None)
    return services, case_id


def _open(services: Any, case_id: int) -> list[tuple[int, str, str | None]]:
    return [(t.id, t.bpmn_id, t.assignee)
            for t in services.cases.tasks(TaskFilter(case_id=case_id))]


def _state(services: Any, db: Engine, case_id: int) -> Any:
    """Everything a move may change, for comparing before and after an undo."""
    head = services.cases.head(case_id)
    instances = [(i.instance_id, i.process_id, i.pack_name, i.pack_version, i.status, i.state)
                 for i in services.cases.cases.case_instances(case_id)]
    tasks = [(t.id, t.bpmn_id, t.title, t.due, t.status, t.assignee)
             for status in ("ready", "completed", "cancelled")
             for t in services.cases.tasks(TaskFilter(case_id=case_id, status=status))]
    return head.pack, instances, sorted(tasks), record_to_story(services.cases.record(case_id))


def test_versions_side_by_side_newest_unless_pinned(db: Engine) -> None:
    registry = _registry("v1", "add")
    services, case_id = _waiting_at_check(db, registry)
    moves = migration_service(db, registry)
    listed = {(v.name, v.version): v for v in moves.versions()}
    assert listed[("moves-test", "1.0.0")].running == 1
    assert listed[("moves-test", "1.2.0")].running == 0
    assert listed[("moves-test", "1.2.0")].current
    assert moves.use("moves-test@1.0.0", "admin") == "1.0.0"
    # the pin is kept in the database: a new service over it uses the pinned version
    fresh = _registry("v1", "add")
    assert migration_service(db, fresh).versions()
    assert fresh.get("moves-test").version == "1.0.0"
    assert moves.use("moves-test", "admin") == "1.2.0"
    with pytest.raises(CarepathError, match="9.9.9"):
        moves.use("moves-test@9.9.9", "admin")
    # the running case carries on, on its own version
    task = services.cases.tasks(TaskFilter(case_id=case_id))[0]
    services.cases.complete_task(task.id, {"nfa": True}, OPERATOR)
    assert [b for _, b, _ in _open(services, case_id)] == ["extra"]


def test_a_renamed_task_is_moved_keeping_its_row(db: Engine) -> None:
    registry = _registry("v1", "rename")
    services, case_id = _waiting_at_check(db, registry)
    (task_id, _, assignee), = _open(services, case_id)
    report = migration_service(db, registry).migrate("moves-test@1.1.0", "admin",
                                                     case_ids=[case_id])
    (case,) = report.cases
    assert (case.status, case.strategy) == ("moved", "instance")
    assert _open(services, case_id) == [(task_id, "check_again", assignee)]
    assert services.cases.head(case_id).pack == "moves-test@1.1.0"
    services.cases.complete_task(task_id, {"nfa": True}, OPERATOR)
    assert [b for _, b, _ in _open(services, case_id)] == ["extra"]
    assert services.audit.verify(None).problems == []


def test_a_task_added_after_the_current_one_is_reached(db: Engine) -> None:
    registry = _registry("v1", "add")
    services, case_id = _waiting_at_check(db, registry)
    report = migration_service(db, registry).migrate("moves-test@1.2.0", "admin",
                                                     from_pack="moves-test@1.0.0")
    assert [c.status for c in report.cases] == ["moved"]
    (task_id, bpmn, _), = _open(services, case_id)
    assert bpmn == "check"
    services.cases.complete_task(task_id, {"nfa": True}, OPERATOR)
    assert [b for _, b, _ in _open(services, case_id)] == ["last_look"]


def test_removing_the_waited_on_task_is_refused_without_a_mapping(db: Engine) -> None:
    registry = _registry("v1", "remove", "remove_mapped")
    services, case_id = _waiting_at_check(db, registry)
    before = _state(services, db, case_id)
    moves = migration_service(db, registry)
    report = moves.migrate("moves-test@1.3.0", "admin", all_cases=True)
    (case,) = report.cases
    assert case.status == "refused"
    assert case.reason is not None and "'check'" in case.reason and "migrations:" in case.reason
    assert _state(services, db, case_id) == before
    report = moves.migrate("moves-test@1.4.0", "admin", all_cases=True)
    assert [c.status for c in report.cases] == ["moved"]
    assert [b for _, b, _ in _open(services, case_id)] == ["extra"]


def test_dry_run_changes_nothing_and_undo_restores_exactly(db: Engine) -> None:
    registry = _registry("v1", "remove_mapped")
    services, case_id = _waiting_at_check(db, registry)
    before = _state(services, db, case_id)
    moves = migration_service(db, registry)
    dry = moves.migrate("moves-test@1.4.0", "admin", case_ids=[case_id], dry_run=True)
    assert dry.run_id is None
    assert dry.as_json()["cases"][0]["status"] == "would_move"
    assert dry.as_json()["cases"][0]["tasks_after"][0]["task"] == "extra"
    assert _state(services, db, case_id) == before
    run = moves.migrate("moves-test@1.4.0", "admin", case_ids=[case_id])
    assert run.run_id and run.moved == 1
    assert _state(services, db, case_id) != before
    assert [r.undone for r in moves.undo(run.run_id, "admin")] == [True]
    after = _state(services, db, case_id)
    assert after == before
    kinds = [h.kind for h in services.cases.cases.history(case_id)]
    assert kinds[-2:] == ["case.migrated", "case.migration_undone"]
    assert services.audit.verify(None).problems == []
    # undone once: a second undo does nothing
    assert [r.reason for r in moves.undo(run.run_id, "admin")] == ["already undone"]


def test_undo_refuses_a_case_changed_since(db: Engine) -> None:
    registry = _registry("v1", "remove_mapped")
    services, case_id = _waiting_at_check(db, registry)
    moves = migration_service(db, registry)
    run = moves.migrate("moves-test@1.4.0", "admin", case_ids=[case_id])
    task_id = _open(services, case_id)[0][0]
    services.cases.complete_task(task_id, {"nfa": True}, OPERATOR)
    (result,) = moves.undo(run.run_id or "", "admin")
    assert not result.undone and result.reason and "changed since" in result.reason


def test_a_target_that_fails_pack_check_is_refused(db: Engine, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(MOVES / "add", broken)
    text = (broken / "processes" / "referral.yaml").read_text()
    cut = text.index("  - task: close")
    (broken / "processes" / "referral.yaml").write_text(text[:cut] + "  - end: done\n"
                                                        "    title: Done\n")
    (broken / "pack.yaml").write_text((broken / "pack.yaml").read_text()
                                      .replace("1.2.0", "1.9.0"))
    registry = _registry("v1")
    registry.add_dir(broken)
    services, case_id = _waiting_at_check(db, registry)
    before = _state(services, db, case_id)
    with pytest.raises(CarepathError, match="does not pass pack check"):
        migration_service(db, registry).migrate("moves-test@1.9.0", "admin", all_cases=True)
    assert _state(services, db, case_id) == before


def test_the_mapping_is_checked_when_the_pack_loads(tmp_path: Path) -> None:
    import shutil

    from carepath.engine.pack import PackErrors

    bad = tmp_path / "bad"
    shutil.copytree(MOVES / "remove_mapped", bad)
    (bad / "pack.yaml").write_text((bad / "pack.yaml").read_text()
                                   .replace("check: extra", "check: nowhere"))
    with pytest.raises(PackErrors, match="'nowhere', which is no step"):
        PackRegistry().add_dir(bad)


# -- another pack: ics2010 -> wt2023 ------------------------------------------------------------

_BUILT_IN_CHECKS: dict[str, Any] = {}


@pytest.fixture
def built_in_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``migrate`` runs ``pack check`` of its target each time (seconds for wt2023 with its
    care stages); the built-in packs do not change during the run, so these tests check each
    once. Other packs are checked every time, as ``migrate`` does."""
    import carepath.engine.check as check

    real = check.check_pack
    shipped = Path(carepath.__file__).parent / "processes"

    def once(pack: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not Path(pack.source).is_relative_to(shipped):
            return real(pack, *args, **kwargs)
        if pack.key not in _BUILT_IN_CHECKS:
            _BUILT_IN_CHECKS[pack.key] = real(pack)
        return _BUILT_IN_CHECKS[pack.key]

    monkeypatch.setattr(check, "check_pack", once)


@pytest.mark.usefixtures("built_in_checked_once")
@pytest.mark.parametrize("story_file", STORIES, ids=lambda p: p.stem)
def test_a_story_half_way_on_ics2010_moves_to_wt2023(db: Engine, story_file: Path) -> None:
    story = half_way(story_file)  # with the child's work still open (tests/halfway.py)
    assert story is not None, "no half-way point of this story is a valid story"
    registry = PackRegistry()
    services = services_for(db, registry)
    result = StoryRunner(services.cases, registry.get("ics2010")).run(story)
    case_id = result.case_ids[0]
    record_before = record_to_story(services.cases.record(case_id))
    moves = migration_service(db, registry)
    dry = moves.migrate("wt2023@1.0.0", "admin", case_ids=[case_id], dry_run=True)
    (planned,) = dry.cases
    assert _open(services, case_id)
    assert planned.status == "would_move", planned.reason
    assert services.cases.head(case_id).pack.startswith("ics2010@")

    run = moves.migrate("wt2023@1.0.0", "admin", case_ids=[case_id])
    (moved,) = run.cases
    assert moved.status == "moved" and moved.strategy == "replay"
    assert record_to_story(services.cases.record(case_id)) == record_before
    assert services.cases.head(case_id).pack == "wt2023@1.0.0"
    # the tasks wt2023 would have open for this record, with wt2023's due dates: the same
    # record told to wt2023 from the start leaves them open
    scratch = MemoryDatabases()
    try:
        with scratch.fresh() as cases:
            expected = StoryRunner(CaseService(cases, registry), registry.get("wt2023")
                                   ).run(story)
    finally:
        scratch.close()
    want = sorted((t.bpmn_id, t.title, t.due) for t in expected.stopped_at)
    got = sorted((t.bpmn_id, t.title, t.due)
                 for t in services.cases.tasks(TaskFilter(case_id=case_id)))
    assert got == want
    assert [(t.task, t.due) for t in moved.tasks_after] != [] or want == []
    assert services.audit.verify(None).problems == []

    before_undo = [t.id for t in services.cases.tasks(TaskFilter(case_id=case_id))]
    assert before_undo
    assert [r.undone for r in moves.undo(run.run_id or "", "admin")] == [True]
    assert services.cases.head(case_id).pack.startswith("ics2010@")
    assert sorted((t.bpmn_id, t.due) for t in services.cases.tasks(TaskFilter(case_id=case_id))
                  ) == sorted((t.bpmn_id, t.due) for t in result.stopped_at)
    assert services.audit.verify(None).problems == []


def test_a_pin_made_by_another_process_applies_to_new_cases_here(
        db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import carepath.adapters.packs as packs_module

    monkeypatch.setattr(packs_module, "PIN_REFRESH_S", 0.0)
    here = _registry("v1", "add")
    services_for(db, here)
    assert here.get("moves-test").version == "1.2.0"
    # another process (a CLI, another web worker) pins, then unpins
    elsewhere = _registry("v1", "add")
    migration_service(db, elsewhere).use("moves-test@1.0.0", "admin")
    assert here.get("moves-test").version == "1.0.0"
    migration_service(db, elsewhere).use("moves-test", "admin")
    assert here.get("moves-test").version == "1.2.0"
    # a pin set in this process alone stands until the database's pin changes
    here.pin("moves-test", "1.0.0")
    assert here.get("moves-test").version == "1.0.0"


def test_shares_of_a_run_meet_each_case_once(db: Engine) -> None:
    """begin_run records the run once; run_share(part, parts) takes the cases whose id is part
    modulo parts, so the shares of the processes of `migrate --jobs` are disjoint and whole."""
    registry = _registry("v1", "remove_mapped")
    services = services_for(db, registry)
    registry.pin("moves-test", "1.0.0")
    ids = [services.cases.open_case("moves-test", {**CHILD, "la_child_id": f"M{n}", "upn": None,
                                     "upn_unknown": "UN5"},
                                    {"date": "2025-05-01", "source": "2A"}, OPERATOR,
                                    worker="sam").case_id for n in range(5)]
    registry.pin("moves-test", None)
    moves = migration_service(db, registry)
    spec = moves.begin_run("moves-test@1.4.0", "admin", from_pack="moves-test@1.0.0")
    assert spec.run_id and spec.selection == ("moves-test", "1.0.0")
    shares = [[r.case_id for r in moves.run_share(spec, part, 3)] for part in range(3)]
    assert sorted(i for share in shares for i in share) == ids
    assert all(i % 3 == part for part, share in enumerate(shares) for i in share)
    assert {services.cases.head(i).pack for i in ids} == {"moves-test@1.4.0"}
    assert len(moves.undo(spec.run_id, "admin")) == 5
    with pytest.raises(CarepathError, match="part 3 of 3 does not exist"):
        list(moves.run_share(spec, 3, 3))
