"""Every sample story (carepath/stories) runs on both built-in packs and leaves a record equal to
it, recorded in story-date order: never back-dated, no task created already overdue."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

import carepath
from carepath.adapters.packs import PackRegistry
from carepath.core.errors import StoryError
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import record_to_story, story_to_record
from carepath.engine.stories.story import parse_story
from carepath.service.stories import StoryResult, StoryRunner
from carepath.service.types import TaskFilter
from tests.casework import Casework as CaseStore

STORIES = sorted((Path(carepath.__file__).parent / "stories").glob("*.yaml"))
PACKS = ["ics2010", "wt2023"]
PACK_DIRS = Path(__file__).parents[2] / "carepath" / "processes"
LONDON = ZoneInfo("Europe/London")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load_story(path: Path) -> dict:
    return parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))


def story_named(name: str) -> dict:
    return load_story(next(p for p in STORIES if p.stem == name))


def run(db: Engine, pack_name: str, story: dict,
        registry: PackRegistry | None = None) -> tuple[CaseStore, StoryResult]:
    store = CaseStore(db, registry or PackRegistry())
    result = StoryRunner(store.service, store.packs.get(pack_name)).run(story)
    return store, result


def test_there_are_enough_stories() -> None:
    names = {p.stem for p in STORIES}
    assert len(names) >= 8
    assert {"nfa", "assessment_closure", "cin_plan", "s47_cp_christmas", "s47_no_icpc",
            "two_episodes", "unborn", "cp_step_down", "s47_during_assessment",
            "reassessment_during_cin_plan"} <= names


@pytest.mark.parametrize("pack_name", PACKS)
@pytest.mark.parametrize("story_file", STORIES, ids=lambda p: p.stem)
def test_story_leaves_an_equal_record(db: Engine, pack_name: str, story_file: Path) -> None:
    story = load_story(story_file)
    store, result = run(db, pack_name, story)
    assert len(result.case_ids) == 1
    assert result.unrecorded == []
    assert result.as_json()["unrecorded"] == []
    record = store.record(result.case_ids[0])
    assert record_to_story(record) == record_to_story(story_to_record(story))


@pytest.mark.parametrize("pack_name", PACKS)
@pytest.mark.parametrize("story_file", STORIES, ids=lambda p: p.stem)
def test_story_is_recorded_in_date_order(db: Engine, pack_name: str, story_file: Path) -> None:
    """Events in non-decreasing clock order; every date a task records is the clock's date
    or later than every earlier event (never back-dated); no task is created after its due
    date."""
    store, result = run(db, pack_name, load_story(story_file))
    case_id = result.case_ids[0]
    clock: date | None = None
    problems: list[str] = []
    for event in store.service.history(case_id):
        day = event.at.astimezone(LONDON).date()
        if clock is not None and day < clock:
            problems.append(f"event {event.seq} ({event.kind}) on {day}, after {clock}")
        clock = max(clock or day, day)
        due = event.payload.get("due") if event.kind == "task.opened" else None
        if due and date.fromisoformat(str(due)) < day:
            problems.append(f"task {event.payload['task']} opened on {day}, due {due}")
        if event.kind == "record.changed":
            for change in event.payload["changes"]:  # type: ignore[union-attr]
                value = change["value"]  # type: ignore[index]
                if isinstance(value, str) and ISO_DATE.match(value) and \
                        date.fromisoformat(value) < day:
                    problems.append(f"{change['item']} = {value} recorded on {day}")  # type: ignore[index]
    for status in ("ready", "completed", "cancelled"):
        for task in store.service.tasks(TaskFilter(case_id=case_id, status=status)):
            if task.due is not None and task.created_at.astimezone(LONDON).date() > task.due:
                problems.append(f"task {task.bpmn_id} created {task.created_at}, due {task.due}")
    assert problems == []


@pytest.mark.parametrize("pack_name", PACKS)
def test_section47_during_an_open_assessment(db: Engine, pack_name: str) -> None:
    """Referral decision: assessment; next day a strategy discussion while it is open: the
    runner takes the pack's start_section47 action on the day of the discussion."""
    story = story_named("s47_during_assessment")
    store, result = run(db, pack_name, story)
    assert result.unrecorded == []
    case_id = result.case_ids[0]
    history = store.service.history(case_id)
    taken = [h for h in history if h.kind == "action.taken"]
    assert [h.payload["action"] for h in taken] == ["start_section47"]
    assert taken[0].at.astimezone(LONDON).date() == date(2025, 6, 3)
    s47 = store.record(case_id).episodes[0].s47s
    assert [(s.start, s.icpc_date) for s in s47] == [(date(2025, 6, 3), date(2025, 6, 20))]


@pytest.mark.parametrize("pack_name", PACKS)
def test_reassessment_during_a_cin_plan(db: Engine, pack_name: str) -> None:
    story = story_named("reassessment_during_cin_plan")
    store, result = run(db, pack_name, story)
    assert result.unrecorded == []
    case_id = result.case_ids[0]
    taken = [h for h in store.service.history(case_id) if h.kind == "action.taken"]
    assert [h.payload["action"] for h in taken] == ["start_assessment"]
    assert taken[0].at.astimezone(LONDON).date() == date(2025, 9, 15)
    episode = store.record(case_id).episodes[0]
    assert [a.start for a in episode.assessments] == [date(2025, 4, 22), date(2025, 9, 15)]
    assert episode.cin_plans[0].end == episode.closure_date == date(2025, 12, 19)


@pytest.mark.parametrize("pack_name", PACKS)
def test_the_christmas_conference_deadline_is_exercised(db: Engine, pack_name: str) -> None:
    """The conference task is opened on the day of the strategy discussion (12 December
    2025), due 7 January 2026, and completed on the day of the conference (6 January)."""
    store, result = run(db, pack_name, story_named("s47_cp_christmas"))
    tasks = store.service.tasks(TaskFilter(case_id=result.case_ids[0], status="completed"))
    conference = [t for t in tasks if t.due == date(2026, 1, 7)]
    assert len(conference) == 1
    assert conference[0].created_at.astimezone(LONDON).date() == date(2025, 12, 12)
    assert not conference[0].overdue


def pack_without_actions(tmp_path: Path, name: str) -> PackRegistry:
    """A copy of a built-in pack named ``<name>_plain``, with no actions."""
    copy = tmp_path / f"{name}_plain"
    shutil.copytree(PACK_DIRS / name, copy)
    text = (copy / "pack.yaml").read_text(encoding="utf-8")
    text = text.replace(f"name: {name}\n", f"name: {name}_plain\n", 1)
    text = text[:text.index("\nactions:")] + "\n"
    (copy / "pack.yaml").write_text(text, encoding="utf-8")
    return PackRegistry([copy])


@pytest.mark.parametrize("pack_name", PACKS)
def test_what_cannot_be_recorded_is_reported(db: Engine, tmp_path: Path,
                                             pack_name: str) -> None:
    """Without the actions, the enquiry of a strategy discussion held while the assessment is
    open cannot be recorded without back-dating it: it is reported, not dropped."""
    registry = pack_without_actions(tmp_path, pack_name)
    _, result = run(db, f"{pack_name}_plain", story_named("s47_during_assessment"), registry)
    paths = [u.path for u in result.unrecorded]
    assert "episodes[0].s47[0]" in paths
    reason = next(u.reason for u in result.unrecorded if u.path == "episodes[0].s47[0]")
    assert "2025-06-03" in reason
    assert result.as_json()["unrecorded"][0] == result.unrecorded[0].as_json()
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
        StoryRunner(store.service, store.packs.get(pack_name)).run(OPEN_NFA)
    message = str(raised.value)
    assert "'Decide what happens next with the referral'" in message
    assert "'closure.date' (Case closure date)" in message
    assert "which the story does not give" in message


def test_an_open_nfa_story_on_a_pack_that_records_the_decision_alone(db: Engine) -> None:
    store = CaseStore(db, PackRegistry([NFA_PACK]))
    pack = store.packs.get("nfa-test")
    result = StoryRunner(store.service, pack, check_record=True).run(OPEN_NFA)
    record = store.record(result.case_ids[0])
    assert record.episodes[0].referral_nfa is True
    assert record.episodes[0].closure_date is None
    assert [t.title for t in result.stopped_at] == ["Close the referral"]
    assert record_to_story(record) == record_to_story(story_to_record(OPEN_NFA))

    # an open referral with no further action may precede the next one (DfE rules 8815/8816):
    # the runner goes on to it instead of stopping after the first episode
    two = story_of(CHILD_YAML.replace("la_child_id: N1", "la_child_id: N2") + """
episodes:
  - referral: {date: 2025-06-16, source: 1B, nfa: true}
  - referral: {date: 2025-09-01, source: 2A}
    primary_need: N5
    closure: {date: 2025-09-03, reason: RC7}
""")
    result = StoryRunner(store.service, pack, check_record=True).run(two)
    record = store.record(result.case_ids[0])
    assert record_to_story(record) == record_to_story(story_to_record(two))


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
    result = StoryRunner(store.service, store.packs.get(pack_name), check_record=True).run(story)
    record = store.record(result.case_ids[0])
    assert record_to_story(record) == record_to_story(story_to_record(story))
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
    result = StoryRunner(store.service, store.packs.get(pack_name), check_record=True).run(story)
    record = store.record(result.case_ids[0])
    assert record.episodes[0].emergency_protection == [date(2025, 9, 9)]
    assert record_to_story(record) == record_to_story(story_to_record(story))


def test_the_runner_never_stops_short_of_the_story(db: Engine) -> None:
    """Police protection on a pack with no question about it: the runner names what it could
    not record instead of leaving it out of the record (it used to stop as if done)."""
    story = story_of(CHILD_YAML.replace("la_child_id: N1", "la_child_id: E2") + """
episodes:
  - referral: {date: 2025-09-08, source: "6"}
    primary_need: N1
    emergency_protection: [2025-09-09]
    closure: {date: 2025-10-10, reason: RC7}
""")
    store = CaseStore(db, PackRegistry([NFA_PACK]))
    result = StoryRunner(store.service, store.packs.get("nfa-test")).run(story)
    paths = [u.path for u in result.unrecorded]
    assert any("emergency_protection" in p for p in paths), result.unrecorded
