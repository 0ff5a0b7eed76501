"""ics2010's looked-after stages, driven through the story runner: each story here records on
the pack through its own tasks and actions with a record equal to the story; the actions are
offered only when they make sense; what the pack cannot record is reported with its path."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import record_to_story
from carepath.engine.stories.story import parse_story
from carepath.service.stories import StoryRunner
from carepath.service.types import Actor, TaskFilter
from tests.casework import Casework

HERE = Path(__file__).parent / "looked_after_ics2010"
STORIES = sorted(HERE.glob("*.yaml"))
CARE_ACTIONS = {"change_placement", "change_legal_status", "child_missing",
                "allocate_social_worker", "adoption_decision", "cease_looked_after"}


def load(text: str, name: str = "story.yaml") -> dict:
    return parse_story(load_yaml(text, name), name)


def run(db: Engine, story: dict) -> tuple[Casework, int, list[str]]:
    work = Casework(db)
    result = StoryRunner(work.service, work.packs.get("ics2010"), check_record=True).run(story)
    return work, result.case_ids[0], [f"{u.path}: {u.reason}" for u in result.unrecorded]


@pytest.mark.parametrize("path", STORIES, ids=[p.stem for p in STORIES])
def test_the_story_records_on_ics2010(db: Engine, path: Path) -> None:
    story = load(path.read_text(encoding="utf-8"), path.name)
    work, case_id, unrecorded = run(db, story)
    assert unrecorded == []
    assert record_to_story(work.record(case_id)) == story


def titles(work: Casework, case_id: int) -> set[str]:
    return {t.title for t in work.service.tasks(TaskFilter(case_id))}


def actions(work: Casework, case_id: int) -> set[str]:
    return {a.name for a in work.service.actions(case_id, Actor.operator("ops"))}


def test_care_planning_follows_the_decision_and_reviews_recur(db: Engine) -> None:
    story = load((HERE / "s20_care_order.yaml").read_text(encoding="utf-8"))
    work, case_id, _ = run(db, story)
    tasks = work.service.tasks(TaskFilter(case_id))
    due = {t.title: t.due for t in tasks}
    # a visit within a week of the first placement (1 July) and of the move (1 October)
    assert sorted(t.due for t in tasks if t.title == "Visit the child in the placement") == [
        date(2025, 7, 8), date(2025, 10, 8)]
    # the return home interview within 72 hours of the return on 12 August
    assert due["Hold the return home interview"] == date(2025, 8, 15)
    # two reviews held (25 July, 20 October): the third at most 6 months after the second
    assert due["Record the looked-after child review"] == date(2026, 4, 20)


def test_first_and_second_review_deadlines(db: Engine) -> None:
    story = load((HERE / "s20_care_order.yaml").read_text(encoding="utf-8"))
    la = story["looked_after"]
    la["reviews"] = la["reviews"][:1]
    for key in ("missing", "social_workers"):
        la.pop(key)
    la["periods"][0] = {"start": date(2025, 7, 1), "need": "N1"}
    la["legal_statuses"] = [{"code": "V2", "start": date(2025, 7, 1)}]
    la["placements"] = [{k: v for k, v in la["placements"][0].items()
                         if k not in ("end", "reason_changed")}]
    work, case_id, unrecorded = run(db, story)
    assert unrecorded == []
    reviews = [t for t in work.service.tasks(TaskFilter(case_id))
               if t.title == "Record the looked-after child review"]
    # one review held on 25 July 2025: the second within 3 months of it
    assert [t.due for t in reviews] == [date(2025, 10, 25)]
    assert actions(work, case_id) >= CARE_ACTIONS
    assert "become_looked_after" not in actions(work, case_id)
    assert "close_case" not in actions(work, case_id)


def test_becoming_looked_after_needs_an_open_episode_with_a_primary_need(db: Engine) -> None:
    work = Casework(db)
    case_id = work.open_case(
        "ics2010", {"la_child_id": "A1", "upn_unknown": "UN2", "birth_date": "2012-06-01",
                    "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]},
        {"date": "2025-05-01", "source": "2A"}, "ops")
    # before the referral decision records the primary need: none of the care actions
    assert not actions(work, case_id) & (CARE_ACTIONS | {"become_looked_after"})


def test_short_breaks_have_no_care_planning_stage(db: Engine) -> None:
    story = load((HERE / "short_breaks.yaml").read_text(encoding="utf-8"))
    work, case_id, unrecorded = run(db, story)
    assert unrecorded == []
    assert "Prepare the care plan" not in titles(work, case_id)
    assert "become_looked_after" in actions(work, case_id)


def test_a_care_leaver_contact_after_the_case_closed_is_reported(db: Engine) -> None:
    text = (HERE / "uasc_care_leaver.yaml").read_text(encoding="utf-8").replace(
        '    primary_need: N1\n',
        '    primary_need: N1\n    closure: {date: 2025-09-10, reason: RC7}\n')
    _, _, unrecorded = run(db, load(text))
    assert len(unrecorded) == 1
    assert unrecorded[0].startswith("looked_after.care_leaver_contacts[0]: on 2026-03-10")
