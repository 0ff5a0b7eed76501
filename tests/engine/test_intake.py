"""Opening a case refuses what the DfE CIN census rules refuse for one child, and records every
change to the child's identifying details in the case's history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from carepath.adapters.packs import PackRegistry
from carepath.core.errors import RecordError
from carepath.core.upn import LA_CODES, duplicate_upn_problem, upn_check_letter, upn_problem
from carepath.engine.intake import check_child, check_referral
from carepath.engine.record.case_record import CaseRecord, Child, Episode, apply_values
from carepath.engine.runtime import CaseRuntime, Outcome, child_details_changes
from carepath.engine.time.clock import FixedClock, use_clock
from carepath.forms.validation import FormErrors, ValidationContext

D = date
CTX = ValidationContext(today=D(2026, 6, 1))
CHILD = {"la_child_id": "C1", "upn": "C201250001001", "birth_date": "2015-06-01", "sex": "F",
         "ethnicity": "WBRI", "disabilities": ["NONE"]}


def errors_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        check_child(raw, CTX)
    return caught.value.by_field()


# -- the UPN (DfE rules 1510-1550) ----------------------------------------------------------------


def test_a_upn_with_an_unknown_la_code_is_refused() -> None:
    # the check letter of A123456789012 is right (A): characters 2-4 (234) are no LA's number
    assert upn_check_letter("123456789012") == "A"
    assert errors_of({**CHILD, "upn": "A123456789012"}) == {
        "upn": "Enter a UPN whose characters 2 to 4 are a DfE local authority number "
               "(DfE rule 1530)"}


def test_a_upn_with_the_wrong_check_letter_is_refused() -> None:
    assert errors_of({**CHILD, "upn": "D201250001001"}) == {
        "upn": "Enter a UPN with the right check letter (DfE rule 1510)"}


@pytest.mark.parametrize("upn", ["C2012500010", "C20125000100I", "C2012500A1001", "c201250001001x"])
def test_a_upn_in_the_wrong_format_is_refused(upn: str) -> None:
    assert errors_of({**CHILD, "upn": upn})["upn"].endswith("(DfE rules 1540, 1550)")


def test_valid_upns() -> None:
    assert check_child(CHILD, CTX).upn == "C201250001001"
    assert check_child({**CHILD, "upn": "c201250001001"}, CTX).upn == "C201250001001"
    for la in ("001", "201", "420", "943"):
        body = f"{la}250001001"
        assert upn_problem(upn_check_letter(body) + body) is None
    # a temporary UPN ends in a letter
    body = "20125000100A"
    assert upn_problem(upn_check_letter(body) + body) is None
    assert "234" not in LA_CODES and "814" not in LA_CODES and "942" in LA_CODES


def test_a_upn_another_child_has_is_a_duplicate() -> None:
    assert duplicate_upn_problem("C201250001001", "C1", []) is None
    assert duplicate_upn_problem("C201250001001", "C1", ["C1"]) is None  # the child itself
    assert duplicate_upn_problem(None, "C1", ["C2"]) is None
    assert duplicate_upn_problem("C201250001001", "C1", ["C3", "C2", "C1"]) == (
        "Enter a different UPN: another child (C2, C3) already has this one (DfE rule 1520)")


def test_an_unborn_child_is_sex_u() -> None:
    unborn = {**CHILD, "birth_date": None, "expected_birth_date": "2026-09-01", "upn": None,
              "upn_unknown": "UN1"}
    assert errors_of(unborn) == {"sex": "Select U for the sex of an unborn child (DfE rule 8750)"}
    assert check_child({**unborn, "sex": "U"}, CTX).expected_birth_date == D(2026, 9, 1)


# -- opening an episode ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runtime() -> CaseRuntime:
    return CaseRuntime(PackRegistry().get("wt2023"))


@pytest.fixture(autouse=True)
def clock() -> Iterator[FixedClock]:
    with use_clock(FixedClock(datetime(2026, 6, 1, 12, tzinfo=UTC))) as fixed:
        yield fixed


def child(**changes: Any) -> Child:
    return check_child({**CHILD, **changes}, CTX)


def referral(day: str) -> dict[str, Any]:
    return check_referral({"date": day, "source": "2A"}, CTX)


def closed(record: CaseRecord, day: date) -> CaseRecord:
    apply_values(record, {"episode.primary_need": "N4", "closure.date": day,
                          "closure.reason": "RC7"})
    return record


def test_a_birth_date_after_the_referral_is_refused(runtime: CaseRuntime) -> None:
    with pytest.raises(FormErrors) as caught:
        runtime.open_episode(None, child(birth_date="2025-06-02"), referral("2025-06-01"), None)
    assert caught.value.by_field() == {"child.birth_date": (
        "Date of birth must be the same as or before the referral date. For a child who was not "
        "born when referred, enter the expected date of birth instead")}
    # born on the day of the referral, or unborn with an expected date: fine
    runtime.open_episode(None, child(birth_date="2025-06-01"), referral("2025-06-01"), None)
    unborn = child(birth_date=None, expected_birth_date="2025-10-01", sex="U", upn=None,
                   upn_unknown="UN1")
    outcome = runtime.open_episode(None, unborn, referral("2025-06-01"), None)
    assert outcome.record.child.expected_birth_date == D(2025, 10, 1)


def test_a_referral_more_than_40_weeks_before_birth_is_refused(runtime: CaseRuntime) -> None:
    unborn = child(birth_date=None, expected_birth_date="2026-04-01", sex="U", upn=None,
                   upn_unknown="UN1")
    with pytest.raises(FormErrors) as caught:
        runtime.open_episode(None, unborn, referral("2025-06-01"), None)
    assert caught.value.by_field() == {"referral.date": (
        "The referral date must be no more than 40 weeks before the child's expected date of "
        "birth (DfE rule 8606)")}


def opened(runtime: CaseRuntime, day: str = "2025-06-01", **changes: Any) -> Outcome:
    return runtime.open_episode(None, child(**changes), referral(day), None)


def test_a_re_referral_before_the_previous_episode_closed_is_refused(
        runtime: CaseRuntime) -> None:
    record = closed(opened(runtime).record, D(2025, 6, 20))
    with pytest.raises(RecordError) as caught:
        runtime.open_episode(record, child(), referral("2025-06-19"), None)
    assert str(caught.value) == (
        "The referral date must be on or after 20 June 2025, the day the child's episode 1 "
        "closed: episodes cannot overlap (DfE rule 8820)")
    # an earlier episode counts too, not only the latest
    record.episodes.insert(0, Episode(D(2024, 1, 5), "2A", primary_need="N4",
                                      closure_date=D(2024, 9, 1), closure_reason="RC7"))
    with pytest.raises(RecordError, match="DfE rule 8820"):
        runtime.open_episode(record, child(), referral("2024-08-01"), None)
    # the day it closed is not an overlap: the rule lets one episode end the day the next begins
    outcome = runtime.open_episode(record, child(), referral("2025-06-20"), None)
    assert [e.referral_date for e in outcome.record.episodes][-1] == D(2025, 6, 20)


def test_a_re_referral_while_an_episode_is_open_is_refused(runtime: CaseRuntime) -> None:
    record = opened(runtime).record
    with pytest.raises(RecordError, match=r"open episode \(referral 1 June 2025\).*8815, 8816"):
        runtime.open_episode(record, child(), referral("2025-07-01"), None)


def test_changed_details_are_an_event_of_the_case(runtime: CaseRuntime) -> None:
    record = closed(opened(runtime).record, D(2025, 6, 20))
    outcome = runtime.open_episode(
        record, child(birth_date="2015-07-01", sex="M", disabilities=["AUT", "COMM"]),
        referral("2025-09-01"), None)
    kinds = [kind for kind, _ in outcome.events]
    assert kinds[:2] == ["referral.recorded", "child.details_changed"]
    payload = dict(outcome.events)["child.details_changed"]
    assert payload == {"changes": [
        {"item": "child.birth_date", "before": "2015-06-01", "after": "2015-07-01"},
        {"item": "child.sex", "before": "F", "after": "M"},
        {"item": "child.disabilities", "before": ["NONE"], "after": ["COMM", "AUT"]},
    ]}
    assert outcome.record.child.sex == "M"
    assert record.child.sex == "F"  # the record given is not changed

    # the same details again: no event
    again = closed(outcome.record, D(2025, 9, 5))
    outcome = runtime.open_episode(again, child(birth_date="2015-07-01", sex="M",
                                                disabilities=["COMM", "AUT"]),
                                   referral("2025-10-01"), None)
    assert "child.details_changed" not in [kind for kind, _ in outcome.events]


def test_child_details_changes() -> None:
    before = Child("C1", upn="C201250001001", birth_date=D(2015, 6, 1), sex="F")
    after = Child("C1", upn_unknown="UN5", birth_date=D(2015, 6, 1), sex="F")
    assert child_details_changes(before, after) == [
        {"item": "child.upn", "before": "C201250001001", "after": None},
        {"item": "child.upn_unknown", "before": None, "after": "UN5"},
    ]
    assert child_details_changes(before, before) == []
