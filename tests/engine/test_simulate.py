"""The story generator: valid stories, reproducible, with realistic proportions."""

from __future__ import annotations

import collections
from datetime import date
from typing import Any

import pytest

from carepath.engine.simulation.generator import (
    SimulationError,
    child_id,
    generate_stories,
    upn_for,
)
from carepath.engine.stories.story import parse_story, upn_problem
from carepath.engine.time.working_days import WorkingDayCalendar
from tests.halfway import dates_in

N = 3000
YEAR = 2026
START, END = date(2025, 4, 1), date(2026, 3, 31)
CAL = WorkingDayCalendar()


@pytest.fixture(scope="module")
def stories() -> list[dict[str, Any]]:
    return list(generate_stories(N, seed=42, year=YEAR))


def _episodes(stories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for s in stories for e in s["episodes"]]


def test_every_story_is_in_the_normalised_form_parse_story_accepts(
        stories: list[dict[str, Any]]) -> None:
    for story in stories:
        # parse_story checks the DfE ERROR rules about one child; the normalised form is a
        # fixed point of it
        assert parse_story(story, "generated") == story


def test_reproducible_and_child_i_does_not_depend_on_n(stories: list[dict[str, Any]]) -> None:
    assert list(generate_stories(50, seed=42, year=YEAR)) == stories[:50]
    assert list(generate_stories(5, seed=43, year=YEAR)) != stories[:5]


def test_ids_and_upns_are_unique_and_valid(stories: list[dict[str, Any]]) -> None:
    ids = [s["child"]["la_child_id"] for s in stories]
    assert ids == [child_id(42, i) for i in range(N)]
    upns = [s["child"]["upn"] for s in stories if "upn" in s["child"]]
    assert len(upns) == len(set(upns)) > N // 2
    assert all(upn_problem(u) is None for u in upns)
    assert all(u[1:4] == "201" for u in upns)  # a recognised LA code (rule 1530)
    assert len({upn_for(7, i) for i in range(10_000)}) == 10_000


def test_nothing_after_the_reference_date_and_some_before_the_year(
        stories: list[dict[str, Any]]) -> None:
    referrals = [e["referral"]["date"] for e in _episodes(stories)]
    assert all(d <= END for s in stories for d in dates_in(s["episodes"]))
    before = sum(1 for d in referrals if d < START)
    assert 0.1 * len(referrals) < before < 0.35 * len(referrals)
    open_at_end = sum(1 for s in stories if "closure" not in s["episodes"][-1])
    assert 0.2 * N < open_at_end < 0.7 * N


def test_year_rules_the_census_cannot_fix(stories: list[dict[str, Any]]) -> None:
    """Rules 8736 and 8740: work still open on 31 March started within the year."""
    for e in _episodes(stories):
        for a in e.get("assessments", []):
            if "authorised" not in a:
                assert a["start"] >= START
        for s in e.get("s47", []):
            if "icpc_date" not in s and not s.get("icpc_not_required"):
                assert s["start"] >= START


def test_working_days_and_conference_timing(stories: list[dict[str, Any]]) -> None:
    on_time = late = 0
    for e in _episodes(stories):
        for s in e.get("s47", []):
            if "icpc_date" in s:
                assert CAL.is_working_day(s["icpc_date"])
                if CAL.working_days_between(s["start"], s["icpc_date"]) <= 15:
                    on_time += 1
                else:
                    late += 1
        for p in e.get("cp_plans", []):
            assert CAL.is_working_day(p["start"])
            for r in p.get("reviews", []):
                assert CAL.is_working_day(r)
        for a in e.get("assessments", []):
            assert CAL.is_working_day(a["start"]) or a["start"] == e["referral"]["date"]
    assert on_time > 2.5 * late > 0


def test_reviews_at_three_then_six_months(stories: list[dict[str, Any]]) -> None:
    first_gaps, later_gaps = [], []
    for e in _episodes(stories):
        for p in e.get("cp_plans", []):
            reviews = p.get("reviews", [])
            if reviews:
                first_gaps.append((reviews[0] - p["start"]).days)
            later_gaps += [(b - a).days for a, b in zip(reviews, reviews[1:], strict=False)]
    assert first_gaps and later_gaps
    assert sum(60 <= g <= 107 for g in first_gaps) > 0.95 * len(first_gaps)
    assert sum(150 <= g <= 200 for g in later_gaps) > 0.95 * len(later_gaps)


def test_proportions_are_roughly_those_published(stories: list[dict[str, Any]]) -> None:
    episodes = _episodes(stories)
    referrals = len(episodes)
    nfa = sum(e["referral"]["nfa"] for e in episodes)
    assert 0.05 < nfa / referrals < 0.11
    sources = collections.Counter(e["referral"]["source"] for e in episodes)
    assert 0.25 < sources["6"] / referrals < 0.33
    assert 0.16 < sources["2A"] / referrals < 0.26
    s47 = sum(len(e.get("s47", [])) for e in episodes)
    assert 0.25 < s47 / referrals < 0.42
    plans = [p for e in episodes for p in e.get("cp_plans", [])]
    categories = collections.Counter(p["initial_category"] for p in plans)
    assert 0.38 < categories["NEG"] / len(plans) < 0.58
    assert 0.27 < categories["EMO"] / len(plans) < 0.47
    re_referrals = sum(1 for s in stories for a, b in zip(s["episodes"], s["episodes"][1:],
                                                           strict=False)
                       if (b["referral"]["date"] - a["referral"]["date"]).days <= 365)
    assert 0.15 < re_referrals / referrals < 0.27
    assert sum(1 for s in stories if "expected_birth_date" in s["child"]) > 0
    assert sum(1 for s in stories if s["child"]["disabilities"] != ["NONE"]) > 0.08 * N
    assert len({s["child"]["ethnicity"] for s in stories}) >= 15
    reasons = collections.Counter(e["closure"]["reason"] for e in episodes if "closure" in e)
    assert {"RC7", "RC8", "RC9"} <= set(reasons)
    assert sum(1 for e in episodes for p in e.get("cp_plans", []) if "end" in p) > 0
    step_downs = sum(1 for e in episodes for p in e.get("cp_plans", [])
                     for c in e.get("cin_plans", []) if "end" in p and c["start"] >= p["end"])
    assert step_downs > 0


def test_unborn_children_are_unborn_on_the_reference_date(
        stories: list[dict[str, Any]]) -> None:
    unborn = [s for s in stories if "expected_birth_date" in s["child"]]
    for s in unborn:
        assert s["child"]["expected_birth_date"] > END
        assert s["child"]["sex"] == "U"
        assert s["child"]["upn_unknown"] == "UN1"


@pytest.mark.parametrize("kwargs", [{"n": -1, "seed": 1}, {"n": 1, "seed": -1},
                                    {"n": 1, "seed": 1, "year": 1990},
                                    {"n": 1, "seed": 1, "la": "20"}])
def test_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(SimulationError):
        generate_stories(**kwargs)  # checked at once, not on the first story


def test_closure_days_are_not_working_days() -> None:
    closed = {date(2025, d.month, d.day) for d in [date(2025, 12, 29), date(2025, 12, 30)]}
    cal = WorkingDayCalendar(closed)
    for story in generate_stories(400, seed=3, year=YEAR, calendar=cal):
        for e in story["episodes"]:
            for s in e.get("s47", []):
                assert s.get("icpc_date") not in closed


def test_unchecked_stories_are_the_same(stories: list[dict[str, Any]]) -> None:
    assert list(generate_stories(N, seed=42, year=YEAR, check=False)) == stories
