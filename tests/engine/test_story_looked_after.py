"""The story format's ``looked_after:`` key: parsed, checked, round-tripped with the record, and
what the runner's cursor gives for the looked-after items against a record at several points."""

from __future__ import annotations

from datetime import date as d
from typing import Any

import pytest

from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import (
    record_from_json,
    record_to_json,
    record_to_story,
    story_to_record,
)
from carepath.engine.record.changes import apply_values
from carepath.engine.stories.cursor import pending_looked_after, story_values
from carepath.engine.stories.story import StoryFormatError, parse_story

HEAD = """\
child: {la_child_id: C9, upn_unknown: UN1, birth_date: 2012-06-01, sex: F, ethnicity: WBRI}
episodes:
  - referral: {date: 2025-05-01, source: "2A"}
"""
CAREER = HEAD + """\
looked_after:
  periods:
    - {start: 2025-07-01, need: N1, end: 2026-02-01, reason_ceased: E41}
  legal_statuses:
    - {code: V2, start: 2025-07-01, end: 2025-09-01}
    - {code: C2, start: 2025-09-01, end: 2026-02-01}
  placements:
    - {type: U6, start: 2025-07-01, end: 2025-10-01, provider: PR1, carer: FC11,
       urn: XXXXXXX, postcode: E1 7AD, home_postcode: E1 7AE, reason_changed: CARPL}
    - {type: U4, start: 2025-10-01, end: 2026-02-01, provider: PR1, carer: FC12,
       urn: XXXXXXX, postcode: E1 7AA, home_postcode: E1 7AE}
  reviews:
    - {held: 2025-07-25, participation: PN1}
  missing:
    - {kind: M, start: 2025-08-10, end: 2025-08-12, rhi_offered: true, rhi_accepted: false}
  social_workers:
    - {worker: SW0006, start: 2025-07-01}
  adoptions:
    - {decision: 2025-11-01, placement_order: 2025-12-01}
  outcomes:
    - {year: 2026, sdq_score: 12, immunisations: true}
  care_leaver_contacts: []
  previous_permanence: {option: P1, year: 2019, month: 5}
  uasc: false
  mother: false
"""


def parse(text: str) -> dict[str, Any]:
    return parse_story(load_yaml(text, "story.yaml"), "story.yaml")


def test_a_looked_after_story_is_normalised_and_round_trips() -> None:
    story = parse(CAREER)
    la = story["looked_after"]
    assert "uasc" not in la and "care_leaver_contacts" not in la  # false / empty left out
    assert la["mother"] is False and la["missing"][0]["rhi_accepted"] is False
    assert la["placements"][0]["start"] == d(2025, 7, 1)
    record = story_to_record(story)
    assert record.looked_after.placements[1].carer == "FC12"
    assert record.looked_after.previous_permanence is not None
    assert record.looked_after.previous_permanence.month == 5
    assert record_to_story(record) == story
    assert record_from_json(record_to_json(record)) == record
    assert parse_story(record_to_story(record), "again") == story


def test_a_story_without_looked_after_has_no_key() -> None:
    story = parse(HEAD)
    assert "looked_after" not in story
    assert record_to_story(story_to_record(story)) == story


@pytest.mark.parametrize(("change", "message", "line"), [
    ("  uasc: maybe\n", "'looked_after.uasc' must be true or false", 28),
    ("  reviews:\n    - {held: 2025-07-25, participation: PN9}\n",
     "'PN9' is not a code", 29),
    ("  missing:\n    - {kind: M, begin: 2025-08-10}\n", "unknown key 'begin'", 29),
    ("  placements:\n    - {type: U6}\n", "a placement needs 'start'", 29),
    ("  legal_statuses: [{code: V2, start: 2025-07-01}]\n"
     "  placements: [{type: U6, start: 2025-07-01, provider: PR1}]\n"
     "  missing: [{kind: M, start: 2025-06-25}]\n", "is not while the child is looked after", 4),
    ("  legal_statuses:\n    - {code: C2, start: 2025-09-01}\n"
     "    - {code: V2, start: 2025-07-01}\n", "must be in date order", 4),
    ("  periods:\n    - {start: 2025-07-01, end: 2025-07-01}\n", "must end after the day", 4),
    ("  periods:\n    - {start: 2025-07-01, end: 2025-08-01}\n"
     "    - {start: 2025-07-20}\n", "periods of care overlap", 4),
    ("  uasc_ceased: 2025-09-01\n", "never recorded as an unaccompanied", 4),
])
def test_errors_name_the_file_and_line(change: str, message: str, line: int) -> None:
    text = HEAD + "looked_after:\n  periods:\n    - {start: 2025-07-01}\n" + change
    text = text.replace("  periods:\n    - {start: 2025-07-01}\n  periods:", "  periods:")
    with pytest.raises(StoryFormatError) as err:
        parse(text)
    assert message in str(err.value)
    assert str(err.value).startswith("story.yaml:")


def test_errors_say_where() -> None:
    with pytest.raises(StoryFormatError, match=r"^story.yaml:5: unknown key 'periodz'"):
        parse(HEAD + "looked_after:\n  periodz: []\n")
    with pytest.raises(StoryFormatError, match=r"'looked_after' must be a mapping"):
        parse(HEAD + "looked_after: [1]\n")


INTO_CARE = frozenset({"care.start", "care.need", "legal_status.start", "legal_status.code",
                       "placement.start", "placement.type", "placement.provider",
                       "placement.reason_changed", "social_worker.start", "social_worker.id",
                       "previous_permanence.option", "previous_permanence.date",
                       "uasc.status"})
MOVE = frozenset({"placement.start", "placement.type", "placement.carer",
                  "placement.reason_changed"})
LEAVE = frozenset({"care.end", "care.reason_ceased"})


def test_cursor_follows_a_looked_after_career() -> None:
    story = parse(CAREER)
    la = story["looked_after"]
    record = story_to_record({**story, "looked_after": {}})
    events = pending_looked_after(la, record)
    assert [(e.item, e.when) for e in events][:5] == [
        ("care.start", d(2025, 7, 1)), ("legal_status.start", d(2025, 7, 1)),
        ("placement.start", d(2025, 7, 1)), ("social_worker.start", d(2025, 7, 1)),
        ("lac_review.date", d(2025, 7, 25))]
    # implied ends (a placement ending when the next starts, both ending with care) are no events
    assert not any(e.item in ("placement.end", "legal_status.end") for e in events)
    assert ("care.end", d(2026, 2, 1)) in [(e.item, e.when) for e in events]
    assert ("outcomes.year", d(2026, 3, 31)) in [(e.item, e.when) for e in events]
    assert pending_looked_after(la, record, until=d(2025, 7, 25))[-1].item == \
        "social_worker.start"

    values = story_values(story["child"], story["episodes"][0], record, INTO_CARE, la)
    assert values["care.start"].pending and values["care.start"].value == d(2025, 7, 1)
    assert values["placement.provider"].value == "PR1" and values["placement.provider"].pending
    assert "placement.reason_changed" not in values  # nothing ended: no reason yet
    assert values["previous_permanence.date"].value == "2019-05"
    assert values["uasc.status"].value is False and not values["uasc.status"].pending

    # coming into care recorded
    apply_values(record, {k: v.value for k, v in values.items()})
    assert [e.item for e in pending_looked_after(la, record)][0] == "lac_review.date"
    again = story_values(story["child"], story["episodes"][0], record, INTO_CARE, la)
    assert not again["care.start"].pending  # nothing left to open: refers to the latest

    # the move on 1 October: opens the second placement, with why the first ended
    move = story_values(story["child"], story["episodes"][0], record, MOVE, la)
    assert move["placement.start"].value == d(2025, 10, 1) and move["placement.start"].pending
    assert move["placement.type"].value == "U4"
    assert move["placement.reason_changed"].value == "CARPL"
    apply_values(record, {k: v.value for k, v in move.items()})
    assert record.looked_after.placements[0].end == d(2025, 10, 1)
    assert record.looked_after.placements[0].reason_changed == "CARPL"
    after = story_values(story["child"], story["episodes"][0], record, MOVE, la)
    assert not after["placement.start"].pending and after["placement.carer"].value == "FC12"

    # leaving care: the end with its reason, both pending on the day
    leave = story_values(story["child"], story["episodes"][0], record, LEAVE, la)
    assert leave["care.end"].pending and leave["care.end"].when == d(2026, 2, 1)
    assert leave["care.reason_ceased"].value == "E41" and leave["care.reason_ceased"].pending
    apply_values(record, {k: v.value for k, v in leave.items()})
    done = story_values(story["child"], story["episodes"][0], record, LEAVE, la)
    assert not done["care.end"].pending and not done["care.reason_ceased"].pending


def test_the_documented_example_parses_and_round_trips() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "stories.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S)
                 if b.startswith("looked_after"))
    story = parse(HEAD + block)
    assert story["looked_after"]["care_leaver_contacts"][0]["in_touch"] == "YES"
    assert record_to_story(story_to_record(story)) == story
