"""The story format: the story files, parsing and checking, round trips with the record."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import carepath
from carepath.core.errors import StoryError
from carepath.core.yamlsource import load_yaml
from carepath.engine.record.case_record import (
    record_from_json,
    record_to_json,
    record_to_story,
    story_to_record,
)
from carepath.engine.stories.story import StoryFormatError, parse_story, upn_check_letter
from carepath.engine.time.working_days import WorkingDayCalendar

STORIES = Path(carepath.__file__).resolve().parent / "stories"
STORY_FILES = sorted(STORIES.glob("*.yaml"))
REQUIRED = {
    "nfa", "assessment_closure", "cin_plan", "s47_cp_christmas", "s47_no_icpc", "two_episodes",
    "unborn", "cp_step_down",
}  # fmt: skip
CENSUS_END = date(2026, 3, 31)
CAL = WorkingDayCalendar()


def load(path: Path) -> dict[str, Any]:
    return parse_story(load_yaml(path.read_text(), path.name), path.name)


def parse_text(text: str) -> dict[str, Any]:
    return parse_story(load_yaml(text, "story.yaml"), "story.yaml")


def story_dates(story: dict[str, Any]) -> list[date]:
    found: list[date] = []

    def walk(value: Any) -> None:
        if isinstance(value, date):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(story["episodes"])
    return found


# -- the story files ---------------------------------------------------------------------------


def test_the_required_stories_exist() -> None:
    names = {p.stem for p in STORY_FILES}
    assert names >= REQUIRED
    assert len(names) >= 8


@pytest.mark.parametrize("path", STORY_FILES, ids=lambda p: p.stem)
def test_story_round_trips_through_the_record(path: Path) -> None:
    story = load(path)
    record = story_to_record(story)
    # a change of worker is the case's, not the record's
    assert record_to_story(record) == {k: v for k, v in story.items() if k != "worker_changes"}
    # and through JSON (events, CLI)
    data = record_to_json(record)
    assert record_from_json(json.loads(json.dumps(data))) == record
    # computed items are extra keys only
    computed = record_to_story(record, CAL, computed=True)
    for ep, plain in zip(computed["episodes"], story["episodes"], strict=True):
        for s in ep.get("s47", []):
            assert s.pop("icpc_target") == CAL.add_working_days(s["start"], 15)
        for p in ep.get("cp_plans", []):
            assert isinstance(p.pop("previous_plans"), int)
        assert ep == plain


@pytest.mark.parametrize("path", STORY_FILES, ids=lambda p: p.stem)
def test_story_follows_practice_and_the_census_queries(path: Path) -> None:
    """What parse_story does not insist on but every shipped story keeps to."""
    story = load(path)
    assert all(d <= CENSUS_END for d in story_dates(story)), "dates up to 31 March 2026"
    child = story["child"]
    if "upn" in child:
        assert child["upn"][1:4] == "201", "LA code 201"
    for ep in story["episodes"]:
        referral = ep["referral"]["date"]
        assessments = ep.get("assessments", [])
        for i, a in enumerate(assessments):
            if "authorised" in a:  # within 45 working days of the referral (a re-assessment
                # during the episode: of its own start)
                begins = referral if i == 0 else a["start"]
                assert a["authorised"] <= CAL.add_working_days(begins, 45)
                assert a.get("factors"), "8897Q: factors on every completed assessment"
            else:  # 8670Q: not open for more than 45 working days at the end of the year
                assert CAL.add_working_days(a["start"], 45) > CENSUS_END
        for s in ep.get("s47", []):
            assert assessments, "2991Q: a section 47 enquiry comes with an assessment"
            # the assessment starts at or before the strategy discussion that begins the enquiry
            assert assessments[0]["start"] <= s["start"]
            if "icpc_date" in s:
                assert CAL.is_working_day(s["icpc_date"]), "ICPC on a working day"
                assert s["icpc_date"] <= CAL.add_working_days(s["start"], 15), "ICPC in time"
            elif not s.get("icpc_not_required"):
                assert CAL.add_working_days(s["start"], 15) > CENSUS_END  # 8675Q
        for p in ep.get("cp_plans", []):
            assert CAL.is_working_day(p["start"])
            reviews = p.get("reviews", [])
            if reviews:  # first review within 3 months, then at most 6 months apart
                assert reviews[0] <= _months_after(p["start"], 3)
                for before, after in zip(reviews, reviews[1:], strict=False):
                    assert after <= _months_after(before, 6)
        closure = ep.get("closure")
        if closure and closure["reason"] in ("RC8", "RC9"):
            assert assessments, "8825Q: RC8/RC9 need an assessment"
        if len(assessments) == 1 and assessments[0].get("factors") == ["21"]:
            assert closure and closure["reason"] in ("RC8", "RC9"), "8873Q"


def _months_after(d: date, months: int) -> date:
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def test_christmas_conference_target_skips_the_bank_holidays() -> None:
    record = story_to_record(load(STORIES / "s47_cp_christmas.yaml"))
    story = record_to_story(record, CAL, computed=True)
    s47 = story["episodes"][0]["s47"][0]
    assert s47["start"] == date(2025, 12, 12)
    assert s47["icpc_target"] == date(2026, 1, 7)
    assert s47["icpc_date"] == date(2026, 1, 6)
    # without a calendar the engine's England calendar is used
    assert record_to_story(record, computed=True) == story


def test_previous_plans_counts_plans_in_earlier_episodes() -> None:
    story = record_to_story(story_to_record(load(STORIES / "cp_reviews.yaml")), computed=True)
    counts = [p["previous_plans"] for ep in story["episodes"] for p in ep.get("cp_plans", [])]
    assert counts == [0, 1]


def test_stories_cover_the_cases() -> None:
    stories = {p.stem: load(p) for p in STORY_FILES}
    assert stories["nfa"]["episodes"][0]["referral"]["nfa"] is True
    assert stories["unborn"]["child"]["sex"] == "U"
    assert "expected_birth_date" in stories["unborn"]["child"]
    assert len(stories["two_episodes"]["episodes"]) == 2
    assert "closure" not in stories["two_episodes"]["episodes"][1]
    assert stories["s47_no_icpc"]["episodes"][0]["s47"][0]["icpc_not_required"] is True
    step_down = stories["cp_step_down"]["episodes"][0]
    assert step_down["cp_plans"][0]["end"] == step_down["cp_plans"][0]["reviews"][-1]
    assert step_down["cin_plans"][0]["start"] >= step_down["cp_plans"][0]["end"]
    assert stories["assessment_closure"]["episodes"][0]["assessments"][0]["factors"] == ["21"]
    assert stories["assessment_closure"]["episodes"][0]["closure"]["reason"] == "RC8"


# -- parsing: normalisation ---------------------------------------------------------------------

MINIMAL = """\
child:
  la_child_id: C1
  upn: C201250001001
  birth_date: 2015-06-01
  sex: F
  ethnicity: WBRI
episodes:
  - referral: {date: 2025-05-01, source: 6}
    primary_need: N1
"""


def test_normalises_codes_dates_and_empty_keys() -> None:
    text = """\
child:
  la_child_id: 12345
  upn: C201250001001
  birth_date: "2015-06-01"
  sex: F
  ethnicity: WBRI
episodes:
  - referral: {date: 2025-05-01, source: 6}
    primary_need: N1
    assessments:
      - {start: 2025-05-02, authorised: 2025-06-10, factors: [21]}
    s47: []
    cin_plans: []
    closure: {date: 2025-06-10, reason: RC8}
"""
    story = parse_text(text)
    assert story == {
        "child": {
            "la_child_id": "12345",
            "upn": "C201250001001",
            "birth_date": date(2015, 6, 1),
            "sex": "F",
            "ethnicity": "WBRI",
            "disabilities": [],
        },
        "episodes": [
            {
                "referral": {"date": date(2025, 5, 1), "source": "6", "nfa": False},
                "primary_need": "N1",
                "assessments": [
                    {"start": date(2025, 5, 2), "authorised": date(2025, 6, 10), "factors": ["21"]}
                ],
                "closure": {"date": date(2025, 6, 10), "reason": "RC8"},
            }
        ],
    }
    assert record_to_story(story_to_record(story)) == story


def test_computed_items_are_accepted_and_dropped() -> None:
    text = MINIMAL + """\
    assessments:
      - {start: 2025-05-01}
    s47:
      - {start: 2025-05-02, icpc_date: 2025-05-22, icpc_target: 2025-05-23, icpc_not_required: false}
    cp_plans:
      - {start: 2025-05-22, initial_category: NEG, latest_category: NEG, previous_plans: 0,
         reviews: []}
"""
    story = parse_text(text)
    episode = story["episodes"][0]
    assert episode["s47"] == [{"start": date(2025, 5, 2), "icpc_date": date(2025, 5, 22)}]
    assert episode["cp_plans"] == [
        {"start": date(2025, 5, 22), "initial_category": "NEG", "latest_category": "NEG"}
    ]


def test_plain_data_without_line_numbers_is_accepted() -> None:
    data = {
        "child": {"la_child_id": "C1", "upn_unknown": "UN1", "birth_date": "2024-01-01",
                  "sex": "M", "ethnicity": "WBRI", "disabilities": ["NONE"]},
        "episodes": [{"referral": {"date": "2025-05-01", "source": "2A", "nfa": False},
                      "primary_need": "N4"}],
    }
    story = parse_story(data, "inline")
    assert story["child"]["birth_date"] == date(2024, 1, 1)
    with pytest.raises(StoryFormatError) as exc:
        parse_story({"child": data["child"]}, "inline")
    assert str(exc.value) == "inline: a story needs 'episodes'"


def test_upn_check_letter() -> None:
    assert upn_check_letter("201250001001") == "C"
    assert upn_check_letter("201250001002") == "R"
    # a temporary UPN ends in a letter, counted by its place in the check alphabet
    assert upn_check_letter("20125000100A") == upn_check_letter("201250001000")


# -- parsing: errors name file and line ---------------------------------------------------------


def replace(old: str, new: str, base: str = MINIMAL) -> str:
    assert old in base
    return base.replace(old, new)


BAD: list[tuple[str, str, int, str]] = [
    # (name, story text, line, part of the message)
    ("not a mapping", "- 1\n", 1, "a story must be a mapping"),
    ("unknown top key", MINIMAL + "notes: hi\n", 10, "unknown key 'notes' in a story"),
    ("no child", "episodes: []\n", 1, "a story needs 'child'"),
    ("no episodes", replace("episodes:\n  - referral: {date: 2025-05-01, source: 6}\n"
                            "    primary_need: N1\n", "episodes: []\n"), 7,
     "'episodes' must be a list of at least one episode"),
    ("unknown child key", replace("  sex: F\n", "  sex: F\n  gender: F\n"), 6,
     "unknown key 'gender' in 'child'"),
    ("both upn and unknown", replace("  upn: C201250001001\n",
                                     "  upn: C201250001001\n  upn_unknown: UN1\n"), 2,
     "either 'upn' or 'upn_unknown'"),
    ("no upn", replace("  upn: C201250001001\n", ""), 2, "either 'upn' or 'upn_unknown'"),
    ("bad check letter", replace("C201250001001", "D201250001001"), 3,
     "wrong check letter: expected C (DfE rule 1510)"),
    ("bad upn shape", replace("C201250001001", "C2012500010"), 3, "is not a unique pupil number"),
    ("upn la code", replace("C201250001001", "A123456789012"), 3, "(DfE rule 1530)"),
    ("bad la id", replace("la_child_id: C1", "la_child_id: C-1"), 2, "1570, 1580"),
    ("both birth dates", replace("  birth_date: 2015-06-01\n",
                                 "  birth_date: 2015-06-01\n  expected_birth_date: 2026-01-01\n"),
     2, "either 'birth_date' or 'expected_birth_date'"),
    ("unborn not U", replace("  birth_date: 2015-06-01\n", "  expected_birth_date: 2026-01-01\n"),
     5, "sex must be U (DfE rule 8750)"),
    ("bad sex", replace("sex: F", "sex: X"), 5, "'sex': 'X' is not a code in 'Sex'"),
    ("bad date", replace("birth_date: 2015-06-01", 'birth_date: "2015-13-01"'), 4,
     "must be a date like 2025-05-01"),
    ("datetime", replace("birth_date: 2015-06-01", "birth_date: 2015-06-01 10:00:00"), 4,
     "without a time"),
    ("none with others", replace("  sex: F\n", "  sex: F\n  disabilities: [NONE, AUT]\n"), 6,
     "DfE rule 8790"),
    ("duplicate disability", replace("  sex: F\n", "  sex: F\n  disabilities: [AUT, AUT]\n"), 6,
     "'AUT' is given twice"),
    ("disabilities not a list", replace("  sex: F\n", "  sex: F\n  disabilities: AUT\n"), 6,
     "must be a list"),
    ("no referral source", replace("{date: 2025-05-01, source: 6}", "{date: 2025-05-01}"), 8,
     "'referral' needs 'source'"),
    ("bad source", replace("source: 6", "source: 11"), 8, "is not a code in 'Source of referral'"),
    ("nfa not bool", replace("source: 6}", "source: 6, nfa: 1}"), 8, "true or false"),
    ("no primary need", replace("    primary_need: N1\n",
                                "    assessments:\n      - {start: 2025-05-02}\n"), 8,
     "DfE rule 8610"),
    ("closed without primary need", replace("    primary_need: N1\n",
                                            "    closure: {date: 2025-05-02, reason: RC7}\n"),
     8, "DfE rule 8610"),
    ("nfa with activity", replace("{date: 2025-05-01, source: 6}",
                                  "{date: 2025-05-01, source: 6, nfa: true}")
     + "    assessments:\n      - {start: 2025-05-01}\n", 10, "DfE rules 4000, 8831, 8832"),
    ("assessment before referral", MINIMAL + "    assessments:\n      - {start: 2025-04-30}\n",
     11, "DfE rule 1103"),
    ("authorised before start",
     MINIMAL + "    assessments:\n      - {start: 2025-05-02, authorised: 2025-05-01}\n",
     11, "DfE rule 8608"),
    ("factors on open assessment",
     MINIMAL + "    assessments:\n      - {start: 2025-05-02, factors: [1A]}\n", 11,
     "DfE rule 8614"),
    ("21 with others",
     MINIMAL + "    assessments:\n      - {start: 2025-05-02, authorised: 2025-05-03, "
     "factors: [21, 1A]}\n", 11, "DfE rule 8869"),
    ("retired factor",
     MINIMAL + "    assessments:\n      - {start: 2025-05-02, authorised: 2025-05-03, "
     "factors: [18A]}\n", 11, "'18A' is not a code"),
    ("two open assessments",
     MINIMAL + "    assessments:\n      - {start: 2025-05-02}\n      - {start: 2025-05-03}\n",
     12, "DfE rule 8896"),
    ("assessments out of order",
     MINIMAL + "    assessments:\n      - {start: 2025-05-05, authorised: 2025-05-06, factors: [1A]}"
     "\n      - {start: 2025-05-03}\n", 12, "in the order they started"),
    ("s47 before referral", MINIMAL + "    s47:\n      - {start: 2025-04-01}\n", 11,
     "DfE rule 2889"),
    ("icpc before s47", MINIMAL + "    s47:\n      - {start: 2025-05-05, icpc_date: 2025-05-02}\n",
     11, "DfE rule 8615"),
    ("icpc on saturday",
     MINIMAL + "    s47:\n      - {start: 2025-05-02, icpc_date: 2025-05-17}\n", 11,
     "DfE rule 8875"),
    ("icpc and not required",
     MINIMAL + "    s47:\n      - {start: 2025-05-02, icpc_date: 2025-05-16, "
     "icpc_not_required: true}\n", 11, "both 'icpc_date' and 'icpc_not_required: true'"),
    ("two open s47", MINIMAL + "    s47:\n      - {start: 2025-05-02}\n      - {start: 2025-05-03}\n",
     12, "DfE rules 8839, 8890"),
    ("plan without icpc",
     MINIMAL + "    cp_plans:\n      - {start: 2025-05-22, initial_category: NEG, "
     "latest_category: NEG}\n", 11, "DfE rule 2885"),
    ("plan missing category",
     MINIMAL + "    cp_plans:\n      - {start: 2025-05-22, initial_category: NEG}\n", 11,
     "needs 'latest_category'"),
    ("plan review on start",
     MINIMAL + "    s47:\n      - {start: 2025-05-02, icpc_date: 2025-05-16}\n    cp_plans:\n"
     "      - {start: 2025-05-16, initial_category: NEG, latest_category: NEG, "
     "reviews: [2025-05-16]}\n", 13, "DfE rule 8841"),
    ("plan ends on start",
     MINIMAL + "    s47:\n      - {start: 2025-05-02, icpc_date: 2025-05-16}\n    cp_plans:\n"
     "      - {start: 2025-05-16, initial_category: NEG, latest_category: NEG, "
     "end: 2025-05-16}\n", 13, "DfE rules 8840, 8925"),
    ("review after end",
     MINIMAL + "    s47:\n      - {start: 2025-05-02, icpc_date: 2025-05-16}\n    cp_plans:\n"
     "      - {start: 2025-05-16, initial_category: NEG, latest_category: NEG, "
     "reviews: [2025-08-01], end: 2025-07-01}\n", 13, "a review cannot be after the plan ended"),
    ("cin plan during cp plan",
     MINIMAL + "    s47:\n      - {start: 2025-05-02, icpc_date: 2025-05-16}\n    cp_plans:\n"
     "      - {start: 2025-05-16, initial_category: NEG, latest_category: NEG}\n"
     "    cin_plans:\n      - {start: 2025-06-01}\n", 15, "DfE rules 4001, 4016, 4017"),
    ("cin plan before cp plan still open",
     MINIMAL + "    s47:\n      - {start: 2025-05-02, icpc_date: 2025-05-16}\n    cp_plans:\n"
     "      - {start: 2025-05-16, initial_category: NEG, latest_category: NEG}\n"
     "    cin_plans:\n      - {start: 2025-05-10}\n", 15, "DfE rules 4001, 4016, 4017"),
    ("cin plan end before start",
     MINIMAL + "    cin_plans:\n      - {start: 2025-06-01, end: 2025-05-30}\n", 11,
     "DfE rule 4011"),
    ("cin plans overlap",
     MINIMAL + "    cin_plans:\n      - {start: 2025-06-01, end: 2025-07-01}\n"
     "      - {start: 2025-07-01}\n", 12, "DfE rule 4014"),
    ("closure without reason", MINIMAL + "    closure: {date: 2025-05-01}\n", 10,
     "'closure' needs 'reason'"),
    ("closure before referral", MINIMAL + "    closure: {date: 2025-04-30, reason: RC7}\n", 10,
     "DfE rule 8630"),
    ("closure before activity",
     MINIMAL + "    cin_plans:\n      - {start: 2025-06-01, end: 2025-07-01}\n"
     "    closure: {date: 2025-06-30, reason: RC7}\n", 12, "DfE rule 8565"),
    ("closure with open assessment",
     MINIMAL + "    assessments:\n      - {start: 2025-05-02}\n"
     "    closure: {date: 2025-06-30, reason: RC7}\n", 12, "DfE rule 8867"),
    ("closure with open s47",
     MINIMAL + "    s47:\n      - {start: 2025-05-02}\n"
     "    closure: {date: 2025-06-30, reason: RC7}\n", 12, "DfE rule 8868"),
    ("closure with open plan",
     MINIMAL + "    cin_plans:\n      - {start: 2025-06-01}\n"
     "    closure: {date: 2025-06-30, reason: RC7}\n", 12, "child in need plan still open"),
    ("RC8 with a plan",
     MINIMAL + "    cin_plans:\n      - {start: 2025-06-01, end: 2025-06-30}\n"
     "    closure: {date: 2025-06-30, reason: RC8}\n", 12, "DfE rule 2990"),
    ("open episode not last",
     MINIMAL + "  - referral: {date: 2025-07-01, source: 6}\n    primary_need: N1\n", 10,
     "DfE rules 8815, 8816"),
    ("episodes overlap",
     MINIMAL + "    closure: {date: 2025-06-30, reason: RC7}\n"
     "  - referral: {date: 2025-06-01, source: 6}\n    primary_need: N1\n", 11, "DfE rule 8820"),
    ("UN7 with further action", replace("upn: C201250001001", "upn_unknown: UN7"), 3,
     "DfE rule 8772"),
    ("referral long before birth", replace("birth_date: 2015-06-01", "birth_date: 2026-04-01"), 8,
     "DfE rule 8606"),
    ("unknown episode key", MINIMAL + "    plans: []\n", 10, "unknown key 'plans' in an episode"),
    ("assessment not a mapping", MINIMAL + "    assessments: [2025-05-01]\n", 10,
     "an assessment must be a mapping"),
]


@pytest.mark.parametrize(("text", "line", "message"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_story_is_refused_with_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(StoryError) as exc:
        parse_text(text)
    err = exc.value
    assert isinstance(err, StoryFormatError)
    assert message in err.detail
    assert (err.file, err.line) == ("story.yaml", line), str(err)
    assert str(err).startswith(f"story.yaml:{line}: ")


def test_minimal_story_is_valid() -> None:
    story = parse_text(MINIMAL)
    assert story["episodes"][0]["referral"] == {
        "date": date(2025, 5, 1), "source": "6", "nfa": False,
    }  # fmt: skip


def test_an_open_nfa_episode_may_precede_another() -> None:
    text = replace("{date: 2025-05-01, source: 6}\n    primary_need: N1\n",
                   "{date: 2025-05-01, source: 6, nfa: true}\n") + (
        "  - referral: {date: 2025-07-01, source: 6}\n    primary_need: N1\n"
    )
    story = parse_text(text)
    assert [e["referral"]["nfa"] for e in story["episodes"]] == [True, False]
