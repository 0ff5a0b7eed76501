"""Every sample story (carepath/stories) runs on both built-in packs and leaves a record equal to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

import carepath
from carepath.adapters.packs import PackRegistry
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import record_to_story
from carepath.engine.stories.story import parse_story
from carepath.service.stories import StoryRunner
from tests.casework import Casework as CaseStore

STORIES = sorted((Path(carepath.__file__).parent / "stories").glob("*.yaml"))
PACKS = ["ics2010", "wt2023"]


def load_story(path: Path) -> dict:
    return parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))


def test_there_are_enough_stories() -> None:
    names = {p.stem for p in STORIES}
    assert len(names) >= 8
    assert {"nfa", "assessment_closure", "cin_plan", "s47_cp_christmas", "s47_no_icpc",
            "two_episodes", "unborn", "cp_step_down"} <= names


@pytest.mark.parametrize("pack_name", PACKS)
@pytest.mark.parametrize("story_file", STORIES, ids=lambda p: p.stem)
def test_story_leaves_an_equal_record(db: Engine, pack_name: str, story_file: Path) -> None:
    story = load_story(story_file)
    store = CaseStore(db, PackRegistry())
    result = StoryRunner(store.service, store.packs.get(pack_name)).run(story)
    assert len(result.case_ids) == 1
    record = store.record(result.case_ids[0])
    assert record_to_story(record) == record_to_story(_normalised(story))


def _normalised(story: dict):
    from carepath.engine.record.case_record import story_to_record

    return story_to_record(story)
