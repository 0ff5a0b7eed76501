"""A story can say the allocated worker changed on a date: the runner records it with the
pack's `change: worker` action on that date, in date order with everything else, or says why
it could not."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from carepath.core.errors import StoryError
from carepath.engine.record.case_record import record_to_story, story_to_record
from carepath.engine.stories.story import parse_story

from .test_stories import PACKS, pack_without_actions, run, story_named

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("pack_name", PACKS)
def test_a_worker_change_is_recorded_on_its_day(db: Engine, pack_name: str) -> None:
    story = story_named("worker_change")
    store, result = run(db, pack_name, story)
    assert result.unrecorded == []
    case_id = result.case_ids[0]
    assert store.record(case_id) == story_to_record(story)
    assert store.service.head(case_id).worker == "robin.new"
    changes = [e for e in store.service.history(case_id) if e.kind == "case.worker_changed"]
    assert len(changes) == 1
    assert changes[0].at.astimezone(LONDON).date() == date(2025, 10, 1)
    # the review after the change was the new worker's
    assert record_to_story(store.record(case_id)) == record_to_story(story_to_record(story))


def with_change(name: str, day: str, worker: str = "alex") -> dict:
    story = story_named(name)
    raw = {**story, "worker_changes": [{"date": day, "worker": worker}]}
    return parse_story(raw, "story.yaml")


def test_a_change_the_pack_cannot_make_is_unrecorded_with_its_path(
        db: Engine, tmp_path: Path) -> None:
    registry = pack_without_actions(tmp_path, "wt2023")
    _, result = run(db, "wt2023_plain", with_change("cin_plan", "2025-06-02"), registry)
    assert [u.path for u in result.unrecorded] == ["worker_changes[0]"]
    assert "change: worker" in result.unrecorded[0].reason


def test_two_changes_on_one_day_are_made_in_the_story_order(db: Engine) -> None:
    story = story_named("cin_plan")
    raw = {**story, "worker_changes": [{"date": "2025-05-23", "worker": "a"},
                                       {"date": "2025-05-23", "worker": "b"}]}
    store, result = run(db, "wt2023", parse_story(raw, "s"))
    assert result.unrecorded == []
    assert store.service.head(result.case_ids[0]).worker == "b"


def test_worker_changes_must_be_in_order_and_while_an_episode_is_open() -> None:
    with pytest.raises(StoryError, match="not while an episode is open"):
        with_change("cin_plan", "2026-03-02")
    with pytest.raises(StoryError, match="not while an episode is open"):
        with_change("cin_plan", "2025-01-02")
    story = story_named("cin_plan")
    with pytest.raises(StoryError, match="in date order"):
        parse_story({**story, "worker_changes": [{"date": "2025-07-01", "worker": "a"},
                                                  {"date": "2025-06-01", "worker": "b"}]}, "s")
    with pytest.raises(StoryError, match="needs the new worker"):
        parse_story({**story, "worker_changes": [{"date": "2025-07-01", "worker": " "}]}, "s")
