"""Simulated looked-after careers (issue 11): deterministic, valid stories, the children in need
unchanged by switching them on, and measures close to the DfE's shapes. The SSDA903 of the
careers recorded through both packs is checked against the DfE rules in
tests/adapters/test_simulate_903.py."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from carepath.engine.record.case_record import record_to_story, story_to_record
from carepath.engine.simulation import careers
from carepath.engine.simulation.generator import SimulationError, generate_stories
from carepath.engine.simulation.measures import care_measures
from tests.halfway import dates_in

YEAR = 2026
LAST = date(YEAR, 3, 31)


def test_the_same_seed_gives_the_same_careers() -> None:
    first = list(generate_stories(60, 5, YEAR, looked_after=1.0))
    again = list(generate_stories(60, 5, YEAR, looked_after=1.0))
    assert first == again
    assert first != list(generate_stories(60, 6, YEAR, looked_after=1.0))


def test_children_in_need_are_the_same_with_or_without_careers() -> None:
    """Each child has its own stream for whether it is looked after: switching careers on turns
    some children into looked-after children and leaves every other story as it was."""
    plain = list(generate_stories(400, 3, YEAR))
    mixed = list(generate_stories(400, 3, YEAR, looked_after=True))
    looked_after = [m for m in mixed if "looked_after" in m]
    assert 0.07 * 400 < len(looked_after) < 0.18 * 400
    for p, m in zip(plain, mixed, strict=True):
        assert p["child"]["la_child_id"] == m["child"]["la_child_id"]
        if "looked_after" not in m:
            assert p == m
    assert all("looked_after" not in p for p in plain)


def test_every_career_is_a_valid_story_dated_by_31_march() -> None:
    stories = list(generate_stories(600, 11, YEAR, looked_after=1.0))  # checked by parse_story
    assert all("looked_after" in s for s in stories)
    for story in stories:
        assert max(dates_in(story)) <= LAST, story["child"]["la_child_id"]
        assert record_to_story(story_to_record(story)) == story
        episode = story["episodes"][0]
        assert "closure" not in episode  # care-leaver contacts need the episode open
        assert episode["referral"]["date"] <= story["looked_after"]["periods"][0]["start"]


def test_every_career_kind_is_drawn() -> None:
    import random

    drawn = Counter(careers.career_of(random.Random(k)) for k in range(5000))
    assert set(drawn) == {name for name, _, _ in careers.CAREERS}
    shares = {name: share for name, _, share in careers.CAREERS}
    for name, count in drawn.items():
        assert abs(100 * count / 5000 - shares[name]) < 3, name


def test_care_measures_are_in_the_dfe_ranges() -> None:
    """Broad bands around the published shapes (docs/simulation.md gives the figures): most
    children looked after on 31 March are under a care order and in foster care; care ends at
    home, at 18, by special guardianship or adoption; some go missing."""
    m = care_measures(generate_stories(3000, 2026, YEAR, looked_after=1.0, check=False), YEAR)
    assert m["looked_after_31_march"] > 1000
    assert 70 <= m["care_order"] <= 92
    assert 5 <= m["section_20"] <= 20
    assert 65 <= m["foster"] <= 85
    assert 1 <= m["placed_for_adoption"] <= 5
    assert 25 <= m["ceased_home"] <= 45
    assert 5 <= m["ceased_adopted"] <= 16
    assert 20 <= m["ceased_18_plus"] <= 40
    assert 5 <= m["missing"] <= 15


def test_a_share_outside_0_to_1_is_refused() -> None:
    with pytest.raises(SimulationError, match="share of looked-after children"):
        generate_stories(10, 1, YEAR, looked_after=1.5)
    with pytest.raises(SimulationError, match="share of looked-after children"):
        generate_stories(10, 1, YEAR, looked_after=-0.1)
