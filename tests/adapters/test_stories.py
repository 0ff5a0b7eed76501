"""Every story in tests/stories runs on both built-in packs and leaves a record equal to it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from carepath.adapters.db.store import CaseStore
from carepath.adapters.packs import PackRegistry
from carepath.adapters.stories import StoryRunner
from carepath.core.errors import StoryError
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import record_to_story
from carepath.engine.stories.story import parse_story

STORIES = sorted((Path(__file__).parents[1] / "stories").glob("*.yaml"))
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
    result = StoryRunner(store, store.packs.get(pack_name)).run(story)
    assert len(result.case_ids) == 1
    record = store.record(result.case_ids[0])
    assert record_to_story(record) == record_to_story(_normalised(story))


def _normalised(story: dict):
    from carepath.engine.record.case_record import story_to_record

    return story_to_record(story)


# -- what a story says is recorded, or the runner says why not -------------------------------

NFA_PACK = Path(__file__).parents[1] / "packs" / "nfa_pack"


def story_of(text: str) -> dict:
    return parse_story(load_yaml(text, "inline.yaml"), "inline.yaml")


CHILD_YAML = """
child:
  la_child_id: N1
  upn_unknown: UN1
  birth_date: 2022-01-10
  sex: F
  ethnicity: WBRI
  disabilities: [NONE]
"""
OPEN_NFA = story_of(CHILD_YAML + """
episodes:
  - referral: {date: 2025-06-16, source: 1B, nfa: true}
""")


@pytest.mark.parametrize("pack_name", PACKS)
def test_an_open_nfa_story_is_refused_by_a_pack_that_closes_with_the_decision(
        db: Engine, pack_name: str) -> None:
    """The built-in packs record "no further action" only with the closure: a story that says
    NFA but gives no closure cannot be recorded, and the runner says what is missing (it used to
    stop with the referral recorded as going on to further action)."""
    store = CaseStore(db, PackRegistry())
    with pytest.raises(StoryError) as raised:
        StoryRunner(store, store.packs.get(pack_name)).run(OPEN_NFA)
    message = str(raised.value)
    assert "'Decide what happens next with the referral'" in message
    assert "'closure.date' (Case closure date)" in message
    assert "which the story does not give" in message


def test_an_open_nfa_story_on_a_pack_that_records_the_decision_alone(db: Engine) -> None:
    store = CaseStore(db, PackRegistry([NFA_PACK]))
    pack = store.packs.get("nfa-test")
    result = StoryRunner(store, pack, check_record=True).run(OPEN_NFA)
    record = store.record(result.case_ids[0])
    assert record.episodes[0].referral_nfa is True
    assert record.episodes[0].closure_date is None
    assert [t.title for t in result.stopped_at] == ["Close the referral"]
    assert record_to_story(record) == record_to_story(_normalised(OPEN_NFA))

    # an open referral with no further action may precede the next one (DfE rules 8815/8816):
    # the runner goes on to it instead of stopping after the first episode
    two = story_of(CHILD_YAML.replace("la_child_id: N1", "la_child_id: N2") + """
episodes:
  - referral: {date: 2025-06-16, source: 1B, nfa: true}
  - referral: {date: 2025-09-01, source: 2A}
    primary_need: N5
    closure: {date: 2025-09-03, reason: RC7}
""")
    result = StoryRunner(store, pack, check_record=True).run(two)
    record = store.record(result.case_ids[0])
    assert record_to_story(record) == record_to_story(_normalised(two))


@pytest.mark.parametrize("pack_name", PACKS)
def test_a_referral_awaiting_its_decision(db: Engine, pack_name: str) -> None:
    """A referral of 31 March not decided by then (neither NFA nor a primary need) is recorded
    as it stands: the decision task is left open."""
    story = story_of(CHILD_YAML + """
episodes:
  - referral: {date: 2026-03-31, source: 2A}
""")
    assert story["episodes"][0]["referral"]["nfa"] is False
    store = CaseStore(db, PackRegistry())
    result = StoryRunner(store, store.packs.get(pack_name), check_record=True).run(story)
    record = store.record(result.case_ids[0])
    assert record_to_story(record) == record_to_story(_normalised(story))
    assert [t.title for t in result.stopped_at] == ["Decide what happens next with the referral"]


EMERGENCY = CHILD_YAML.replace("la_child_id: N1", "la_child_id: E1") + """
episodes:
  - referral: {date: 2025-09-08, source: "6", nfa: false}
    primary_need: N1
    emergency_protection: [2025-09-09]
    assessments:
      - {start: 2025-09-08, authorised: 2025-10-24, factors: [3B]}
    s47:
      - {start: 2025-09-09, icpc_not_required: true}
    cin_plans:
      - {start: 2025-10-27}
"""


@pytest.mark.parametrize("pack_name", PACKS)
def test_emergency_protection_is_recorded_at_the_strategy_discussion(db: Engine,
                                                                     pack_name: str) -> None:
    story = story_of(EMERGENCY)
    store = CaseStore(db, PackRegistry())
    result = StoryRunner(store, store.packs.get(pack_name), check_record=True).run(story)
    record = store.record(result.case_ids[0])
    assert record.episodes[0].emergency_protection == [date(2025, 9, 9)]
    assert record_to_story(record) == record_to_story(_normalised(story))


def test_the_runner_never_stops_short_of_the_story(db: Engine) -> None:
    """Police protection on a pack with no question about it: the runner fails naming what it
    could not record instead of leaving it out of the record (it used to stop as if done)."""
    story = story_of(CHILD_YAML.replace("la_child_id: N1", "la_child_id: E2") + """
episodes:
  - referral: {date: 2025-09-08, source: "6"}
    primary_need: N1
    emergency_protection: [2025-09-09]
    closure: {date: 2025-10-10, reason: RC7}
""")
    store = CaseStore(db, PackRegistry([NFA_PACK]))
    with pytest.raises(StoryError, match=r"no task that can record .* 'episode.emergency_protection'"
                                         r" \(Date of an emergency protection order or police "
                                         r"protection\) on 2025-09-09"):
        StoryRunner(store, store.packs.get("nfa-test")).run(story)
