"""The case record: applying form values, new referrals, the expression context, JSON."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

import carepath
from carepath.core.errors import RecordError
from carepath.core.record_items import (
    CONTEXT_DATES,
    CONTEXT_NAMESPACES,
    LOOKED_AFTER_ITEMS,
    RECORD_CONTEXT_KEYS,
    RECORD_ITEMS,
)
from carepath.engine.record.case_record import (
    Assessment,
    CaseRecord,
    Child,
    CINPlan,
    CPPlan,
    Episode,
    RecordChange,
    Section47,
    apply_values,
    new_episode,
    record_context,
    record_from_json,
    record_to_json,
    record_to_story,
    story_to_record,
)
from carepath.engine.time.working_days import WorkingDayCalendar

D = date.fromisoformat


def child(**kw: Any) -> Child:
    base: dict[str, Any] = {"la_child_id": "C1", "upn": "C201250001001", "birth_date": D("2015-06-01"),
                            "sex": "F", "ethnicity": "WBRI", "disabilities": ["NONE"]}
    base.update(kw)
    return Child(**base)


def fresh(referral: str = "2025-05-01") -> CaseRecord:
    record = CaseRecord(child=child())
    new_episode(record, D(referral), "2A")
    return record


def ep(record: CaseRecord) -> Episode:
    return record.episodes[-1]


# -- apply_values ------------------------------------------------------------------------------


def test_start_items_come_first_then_record_item_order() -> None:
    record = fresh()
    changes = apply_values(record, {
        "assessment.factors": ["1B", "3A"],
        "episode.primary_need": "N1",
        "assessment.authorised": D("2025-06-10"),
        "assessment.start": D("2025-05-02"),
    })
    assert [c.item for c in changes] == [
        "assessment.start", "episode.primary_need", "assessment.authorised", "assessment.factors",
    ]
    assert changes[0] == RecordChange("assessment.start", D("2025-05-02"), None)
    assert changes[1] == RecordChange("episode.primary_need", "N1", None)
    assert changes[3] == RecordChange("assessment.factors", ["1B", "3A"], [])
    assert ep(record).assessments == [Assessment(D("2025-05-02"), D("2025-06-10"), ["1B", "3A"])]


def test_none_and_empty_text_are_skipped() -> None:
    record = fresh()
    assert apply_values(record, {"child.upn": "", "episode.primary_need": None}) == []
    assert record.child.upn == "C201250001001"


def test_values_are_coerced_and_codes_checked() -> None:
    record = fresh()
    changes = apply_values(record, {"assessment.start": "2025-05-02", "referral.source": 6,
                                    "referral.nfa": "no"})
    assert ep(record).assessments[0].start == D("2025-05-02")
    assert ep(record).referral_source == "6"
    assert changes[-1] == RecordChange("referral.nfa", False, False)
    with pytest.raises(RecordError, match="'X' is not a code in the list 'Sex'"):
        apply_values(record, {"child.sex": "X"})
    with pytest.raises(RecordError, match="must be a date"):
        apply_values(record, {"closure.date": "soon"})
    with pytest.raises(RecordError, match="must be yes or no"):
        apply_values(record, {"referral.nfa": "maybe"})
    with pytest.raises(RecordError, match="each code may be given only once"):
        apply_values(record, {"child.disabilities": ["AUT", "AUT"]})
    with pytest.raises(RecordError, match="'cp_plan.stop' is not an item of the case record"):
        apply_values(record, {"cp_plan.stop": D("2025-06-01")})


def test_assessment_cycle_and_errors() -> None:
    record = fresh()
    with pytest.raises(RecordError) as exc:
        apply_values(record, {"assessment.authorised": D("2025-06-10")})
    assert str(exc.value) == "There is no assessment to authorise in this episode"
    with pytest.raises(RecordError, match="There is no assessment in this episode"):
        apply_values(record, {"assessment.factors": ["21"]})
    apply_values(record, {"assessment.start": D("2025-05-02")})
    with pytest.raises(RecordError) as exc:
        apply_values(record, {"assessment.start": D("2025-05-03")})
    assert str(exc.value) == (
        "An assessment is already open in this episode (started 2025-05-02): authorise it first"
    )
    with pytest.raises(RecordError, match="8614"):
        apply_values(record, {"assessment.factors": ["1A"]})
    with pytest.raises(RecordError, match="8869"):
        apply_values(record, {"assessment.authorised": D("2025-06-10"),
                              "assessment.factors": ["21", "1A"]})
    assert ep(record).assessments[0].authorised is None  # nothing applied
    with pytest.raises(RecordError, match="cannot be authorised before it started"):
        apply_values(record, {"assessment.authorised": D("2025-05-01")})
    apply_values(record, {"assessment.authorised": D("2025-06-10"), "assessment.factors": ["21"]})
    # a second assessment once the first is authorised
    apply_values(record, {"assessment.start": D("2025-07-01")})
    assert [a.start for a in ep(record).assessments] == [D("2025-05-02"), D("2025-07-01")]
    with pytest.raises(RecordError, match="cannot start before the referral"):
        apply_values(fresh(), {"assessment.start": D("2025-04-30")})


def test_section_47_cycle_and_errors() -> None:
    record = fresh()
    with pytest.raises(RecordError, match="There is no section 47 enquiry in this episode"):
        apply_values(record, {"s47.icpc_date": D("2025-05-22")})
    apply_values(record, {"s47.start": D("2025-05-03")})
    with pytest.raises(RecordError) as exc:
        apply_values(record, {"s47.start": D("2025-05-04")})
    assert str(exc.value).startswith(
        "A section 47 enquiry is already open in this episode (started 2025-05-03)"
    )
    with pytest.raises(RecordError, match="before the strategy discussion"):
        apply_values(record, {"s47.icpc_date": D("2025-05-02")})
    with pytest.raises(RecordError, match="both"):
        apply_values(record, {"s47.icpc_date": D("2025-05-22"), "s47.icpc_not_required": True})
    changes = apply_values(record, {"s47.icpc_not_required": True})
    assert changes == [RecordChange("s47.icpc_not_required", True, False)]
    # closed by 'not required': a new enquiry may start
    apply_values(record, {"s47.start": D("2025-06-02")})
    apply_values(record, {"s47.icpc_date": D("2025-06-20")})
    assert ep(record).s47s == [Section47(D("2025-05-03"), None, True),
                               Section47(D("2025-06-02"), D("2025-06-20"), False)]


def test_cp_plan_cycle_and_errors() -> None:
    record = fresh()
    for item in ("cp_plan.end", "cp_plan.review"):
        with pytest.raises(RecordError, match="There is no child protection plan in this episode"):
            apply_values(record, {item: D("2025-08-20")})
    with pytest.raises(RecordError, match=r"must start on the day of the initial child "
                       r"protection conference .*\(DfE rule 2885\)"):
        apply_values(record, {"cp_plan.start": D("2025-05-22")})
    apply_values(record, {"s47.start": D("2025-05-08")})
    with pytest.raises(RecordError, match=r"cannot be on a Saturday or Sunday .*8875"):
        apply_values(record, {"s47.icpc_date": D("2025-05-24")})
    apply_values(record, {"s47.icpc_date": D("2025-05-20")})
    with pytest.raises(RecordError, match="2885"):
        apply_values(record, {"cp_plan.start": D("2025-05-22")})
    assert ep(record).cp_plans == []
    apply_values(record, {"s47.start": D("2025-05-21"), "s47.icpc_date": D("2025-05-22")})
    changes = apply_values(record, {"cp_plan.start": D("2025-05-22"),
                                    "cp_plan.initial_category": "NEG"})
    assert changes == [
        RecordChange("cp_plan.start", D("2025-05-22"), None),
        RecordChange("cp_plan.initial_category", "NEG", None),
        RecordChange("cp_plan.latest_category", "NEG", None),
    ]
    with pytest.raises(RecordError) as exc:
        apply_values(record, {"cp_plan.start": D("2025-06-01")})
    assert str(exc.value) == (
        "A child protection plan is already open in this episode (started 2025-05-22): end it first"
    )
    with pytest.raises(RecordError, match="must be after the child protection plan started"):
        apply_values(record, {"cp_plan.review": D("2025-05-22")})
    assert apply_values(record, {"cp_plan.review": D("2025-08-20")}) == [
        RecordChange("cp_plan.review", D("2025-08-20"), None)]
    changes = apply_values(record, {"cp_plan.review": D("2026-02-10"),
                                    "cp_plan.latest_category": "EMO",
                                    "cp_plan.end": D("2026-02-10")})
    assert changes[0] == RecordChange("cp_plan.latest_category", "EMO", "NEG")
    assert changes[1] == RecordChange("cp_plan.review", D("2026-02-10"), D("2025-08-20"))
    plan = ep(record).cp_plans[0]
    assert plan == CPPlan(D("2025-05-22"), "NEG", "EMO", [D("2025-08-20"), D("2026-02-10")],
                          D("2026-02-10"))
    # initial category does not overwrite a latest category already recorded
    apply_values(record, {"cp_plan.initial_category": "PHY"})
    assert (plan.initial_category, plan.latest_category) == ("PHY", "EMO")
    with pytest.raises(RecordError, match="must end after the day it started"):
        apply_values(record, {"cp_plan.end": D("2025-05-22")})
    apply_values(record, {"s47.start": D("2026-02-20"), "s47.icpc_date": D("2026-03-02")})
    apply_values(record, {"cp_plan.start": D("2026-03-02")})
    assert len(ep(record).cp_plans) == 2


def test_cin_plan_cycle_and_errors() -> None:
    record = fresh()
    with pytest.raises(RecordError, match="There is no child in need plan in this episode"):
        apply_values(record, {"cin_plan.end": D("2025-08-20")})
    apply_values(record, {"cin_plan.start": D("2025-06-01")})
    with pytest.raises(RecordError) as exc:
        apply_values(record, {"cin_plan.start": D("2025-07-01")})
    assert str(exc.value) == (
        "A child in need plan is already open in this episode (started 2025-06-01): end it first"
    )
    with pytest.raises(RecordError, match="cannot end before it started"):
        apply_values(record, {"cin_plan.end": D("2025-05-31")})
    assert apply_values(record, {"cin_plan.end": D("2025-09-01")}) == [
        RecordChange("cin_plan.end", D("2025-09-01"), None)]
    assert ep(record).cin_plans == [CINPlan(D("2025-06-01"), D("2025-09-01"))]


def test_closure_and_the_closed_episode_guard() -> None:
    record = fresh()
    apply_values(record, {"cin_plan.start": D("2025-06-01")})
    with pytest.raises(RecordError, match="Give the reason for closure with the closure date"):
        apply_values(record, {"closure.date": D("2025-09-01")})
    with pytest.raises(RecordError, match="Give the closure date with the reason"):
        apply_values(record, {"closure.reason": "RC7"})
    with pytest.raises(RecordError, match="cannot close before work recorded on it"):
        apply_values(record, {"closure.date": D("2025-05-20"), "closure.reason": "RC7"})
    # a form that ends the plan and closes the episode at once
    changes = apply_values(record, {"closure.reason": "RC7", "closure.date": D("2025-09-01"),
                                    "cin_plan.end": D("2025-09-01")})
    assert [c.item for c in changes] == ["cin_plan.end", "closure.date", "closure.reason"]
    for values in ({"closure.reason": "RC8"}, {"assessment.start": D("2025-09-02")},
                   {"episode.primary_need": "N2"}, {"referral.source": "6"}):
        with pytest.raises(RecordError) as exc:
            apply_values(record, values)
        assert str(exc.value) == (
            "This episode was closed on 2025-09-01: no more work can be recorded on it"
        )
    # the child's details can still change
    assert apply_values(record, {"child.ethnicity": "WIRI"}) == [
        RecordChange("child.ethnicity", "WIRI", "WBRI")]


def test_no_episode_yet() -> None:
    record = CaseRecord(child=child())
    with pytest.raises(RecordError, match="no episode yet: record a referral first"):
        apply_values(record, {"assessment.start": D("2025-05-02")})
    assert apply_values(record, {"child.sex": "M"}) == [RecordChange("child.sex", "M", "F")]


def test_no_further_action_referrals_take_no_work() -> None:
    record = fresh()
    apply_values(record, {"referral.nfa": True})
    with pytest.raises(RecordError, match="no further action"):
        apply_values(record, {"assessment.start": D("2025-05-02")})
    # changing the decision in the same form is fine
    apply_values(record, {"referral.nfa": False, "assessment.start": D("2025-05-02")})
    with pytest.raises(RecordError, match="cannot be marked as needing no further action"):
        apply_values(record, {"referral.nfa": True})


def test_one_or_the_other_child_items() -> None:
    record = CaseRecord(child=child(upn=None, upn_unknown="UN1", birth_date=None,
                                    expected_birth_date=D("2026-01-10"), sex="U"))
    changes = apply_values(record, {"child.birth_date": D("2026-01-08"), "child.sex": "F"})
    assert changes == [
        RecordChange("child.birth_date", D("2026-01-08"), None),
        RecordChange("child.expected_birth_date", None, D("2026-01-10")),
        RecordChange("child.sex", "F", "U"),
    ]
    apply_values(record, {"child.upn": "C201250001001"})
    assert (record.child.upn, record.child.upn_unknown) == ("C201250001001", None)
    with pytest.raises(RecordError, match="not both"):
        apply_values(record, {"child.upn": "C201250001001", "child.upn_unknown": "UN2"})
    with pytest.raises(RecordError, match="not both"):
        apply_values(record, {"child.birth_date": D("2026-01-08"),
                              "child.expected_birth_date": D("2026-01-08")})
    changes = apply_values(record, {"child.disabilities": ["AUT", "LD"]})
    assert changes == [RecordChange("child.disabilities", ["AUT", "LD"], ["NONE"])]


def test_a_failed_apply_changes_nothing() -> None:
    record = fresh()
    apply_values(record, {"assessment.start": D("2025-05-02")})
    before = record_to_json(record)
    with pytest.raises(RecordError):
        # the CIN plan and the primary need would be fine; the second assessment is not
        apply_values(record, {"cin_plan.start": D("2025-06-01"), "episode.primary_need": "N1",
                              "assessment.start": D("2025-06-01")})
    assert record_to_json(record) == before


def test_every_record_item_can_be_applied() -> None:
    record = fresh()
    values: dict[str, Any] = {
        "child.la_child_id": "C2", "child.upn_unknown": "UN2", "child.expected_birth_date": None,
        "child.sex": "M", "child.ethnicity": "WIRI", "child.disabilities": ["HEAR"],
        "referral.date": D("2025-05-01"), "referral.source": "3A", "referral.nfa": False,
        "episode.primary_need": "N1", "episode.emergency_protection": D("2025-05-03"),
        "assessment.start": D("2025-05-02"), "assessment.authorised": D("2025-06-10"),
        "assessment.factors": ["2B"],
        "s47.start": D("2025-05-03"), "s47.icpc_date": D("2025-05-22"),
        "cp_plan.start": D("2025-05-22"), "cp_plan.initial_category": "NEG",
        "cp_plan.latest_category": "EMO", "cp_plan.review": D("2025-08-20"),
        "cp_plan.end": D("2025-08-20"),
        "cin_plan.start": D("2025-08-20"), "cin_plan.end": D("2025-12-01"),
        "closure.date": D("2025-12-01"), "closure.reason": "RC7",
    }
    apply_values(record, values)
    apply_values(record, {"child.birth_date": D("2015-06-01"), "child.upn": "C201250001001"})
    # the looked-after items: tests/engine/test_lac_changes.py
    assert {k for k in values} | {"child.birth_date", "child.upn", "s47.icpc_not_required"} == set(
        RECORD_ITEMS) - {i.path for i in LOOKED_AFTER_ITEMS}
    story = record_to_story(record)
    assert story["episodes"][0]["cp_plans"] == [{
        "start": D("2025-05-22"), "initial_category": "NEG", "latest_category": "EMO",
        "reviews": [D("2025-08-20")], "end": D("2025-08-20")}]
    assert story["child"]["upn"] == "C201250001001" and "upn_unknown" not in story["child"]
    assert story["episodes"][0]["emergency_protection"] == [D("2025-05-03")]


# -- new_episode -------------------------------------------------------------------------------


def test_new_episode() -> None:
    record = CaseRecord(child=child())
    first = new_episode(record, D("2025-05-01"), "2A")
    assert record.episodes == [first]
    assert first == Episode(referral_date=D("2025-05-01"), referral_source="2A")
    with pytest.raises(RecordError) as exc:
        new_episode(record, D("2025-07-01"), "6")
    assert str(exc.value) == (
        "This child already has an open episode (referral 2025-05-01): close it before recording "
        "a new referral"
    )
    apply_values(record, {"episode.primary_need": "N4", "closure.date": D("2025-06-30"),
                          "closure.reason": "RC7"})
    with pytest.raises(RecordError, match="on or after 2025-06-30"):
        new_episode(record, D("2025-06-29"), "6")
    with pytest.raises(RecordError, match="is not a code"):
        new_episode(record, D("2025-07-01"), "XX")
    second = new_episode(record, D("2025-07-01"), "6", nfa=True)
    assert record.episodes[-1] is second and second.referral_nfa
    # an open referral with no further action does not block the next one
    third = new_episode(record, D("2025-08-01"), "1A")
    assert len(record.episodes) == 3 and record.episodes[-1] is third


# -- record_context ----------------------------------------------------------------------------

CONTEXT_KEYS = {
    "child": {"la_child_id", "upn", "upn_unknown", "birth_date", "expected_birth_date", "sex",
              "ethnicity", "disabilities", "age_years"},
    "referral": {"date", "source", "nfa"},
    "episode": {"number", "primary_need", "closed", "assessments", "open"},
    "assessment": {"start", "authorised", "factors", "open"},
    "s47": {"start", "icpc_date", "icpc_not_required", "icpc_target", "open"},
    "cp_plan": {"start", "end", "initial_category", "latest_category", "last_review", "reviews",
                "previous_plans", "open"},
    "cin_plan": {"start", "end", "open"},
    "closure": {"date", "reason"},
    "care": {"start", "need", "end", "reason_ceased", "periods", "open"},
    "legal_status": {"code", "start"},
    "placement": {"type", "provider", "start", "open"},
    "lac_review": {"last", "count"},
    "missing": {"start", "kind", "end", "open"},
    "adoption": {"decision", "matched", "open"},
    "care_leaver": {"last_contact", "uasc"},
}


def test_the_looked_after_record_as_expressions_read_it() -> None:
    from carepath.engine.record.looked_after import (
        LACReview,
        LegalStatus,
        MissingEpisode,
        PeriodOfCare,
        Placement,
    )

    record = CaseRecord(child=child())
    la = record.looked_after
    la.periods += [PeriodOfCare(D("2024-01-10"), "N1", D("2024-05-01"), "E4A"),
                   PeriodOfCare(D("2025-07-01"), "N4")]
    la.legal_statuses += [LegalStatus("V2", D("2024-01-10"), D("2024-05-01")),
                          LegalStatus("C1", D("2025-07-01"))]
    la.placements.append(Placement("U6", D("2025-07-01"), provider="PR1"))
    la.reviews += [LACReview(D("2024-02-01")), LACReview(D("2025-07-25"))]
    la.missing.append(MissingEpisode("M", D("2025-08-01")))
    ctx = record_context(record)
    assert ctx["care"]["open"] and ctx["care"]["start"] == D("2025-07-01")
    assert ctx["care"]["periods"] == 2 and ctx["legal_status"]["code"] == "C1"
    assert ctx["placement"]["open"] and ctx["placement"]["type"] == "U6"
    # reviews of the current period only: its review clock started again
    assert ctx["lac_review"] == {"last": D("2025-07-25"), "count": 1}
    assert ctx["missing"]["open"] and not ctx["adoption"]["open"]
    la.periods[-1].end, la.periods[-1].reason_ceased = D("2025-09-01"), "E4A"
    ended = record_context(record)
    assert not ended["care"]["open"] and not ended["placement"]["open"]
    assert ended["legal_status"]["code"] is None


def test_context_has_every_key_before_any_referral() -> None:
    ctx = record_context(CaseRecord(child=child()))
    assert {k: set(v) for k, v in ctx.items()} == CONTEXT_KEYS
    assert set(ctx) >= CONTEXT_NAMESPACES
    for path in CONTEXT_DATES:
        namespace, name = path.split(".")
        assert name in ctx[namespace], path
    assert ctx["child"]["birth_date"] == D("2015-06-01")
    assert ctx["referral"]["date"] is None and ctx["episode"]["closed"] is False
    assert ctx["assessment"]["factors"] == [] and ctx["cp_plan"]["reviews"] == []
    assert ctx["episode"]["number"] == 0 and ctx["episode"]["assessments"] == 0
    # the static list forms and conditions are checked against at pack load
    assert {k: set(v) for k, v in RECORD_CONTEXT_KEYS.items()} == CONTEXT_KEYS


def test_context_reads_the_latest_of_the_current_episode() -> None:
    old = Episode(D("2024-01-08"), "2A", primary_need="N1",
                  s47s=[Section47(D("2024-01-09"), D("2024-01-26"))],
                  cp_plans=[CPPlan(D("2024-01-26"), "NEG", "NEG", [D("2024-04-20")],
                                   D("2024-10-01"))],
                  closure_date=D("2024-10-01"), closure_reason="RC7")
    now = Episode(
        D("2025-12-10"), "6", primary_need="N1",
        assessments=[Assessment(D("2025-12-11"), D("2026-01-30"), ["3A"])],
        s47s=[Section47(D("2025-12-12"), D("2026-01-06"))],
        cp_plans=[CPPlan(D("2026-01-06"), "EMO", "EMO", [D("2026-03-26")])],
    )
    record = CaseRecord(child=child(), episodes=[old, now])
    cal = WorkingDayCalendar()
    ctx = record_context(record, cal)
    assert {k: set(v) for k, v in ctx.items()} == CONTEXT_KEYS
    assert ctx["referral"] == {"date": D("2025-12-10"), "source": "6", "nfa": False}
    assert ctx["episode"] == {"number": 2, "primary_need": "N1", "closed": False, "assessments": 1,
                              "open": True}
    assert ctx["assessment"] == {"start": D("2025-12-11"), "authorised": D("2026-01-30"),
                                 "factors": ["3A"], "open": False}
    assert ctx["s47"] == {"start": D("2025-12-12"), "icpc_date": D("2026-01-06"),
                          "icpc_not_required": False, "icpc_target": D("2026-01-07"),
                          "open": False}
    assert ctx["cp_plan"]["last_review"] == D("2026-03-26")
    assert ctx["cp_plan"]["previous_plans"] == 1
    assert ctx["cin_plan"] == {"start": None, "end": None, "open": False}
    assert ctx["cp_plan"]["open"] is True
    assert ctx["closure"] == {"date": None, "reason": None}
    # a council closure day moves the target
    closed = WorkingDayCalendar([D("2025-12-29")])
    assert record_context(record, closed)["s47"]["icpc_target"] == D("2026-01-08")
    # without a calendar: England's working days
    assert record_context(record)["s47"]["icpc_target"] == D("2026-01-07")


# -- story and JSON forms ----------------------------------------------------------------------


def test_record_to_story_leaves_out_what_is_not_known() -> None:
    record = CaseRecord(
        child=Child("C9", upn_unknown="UN1", expected_birth_date=D("2026-05-20")),
        episodes=[Episode(D("2026-01-12"), None,
                          assessments=[Assessment(D("2026-01-13"))],
                          s47s=[Section47(D("2026-01-14"))],
                          cp_plans=[CPPlan(D("2026-02-02"))],
                          cin_plans=[CINPlan(D("2026-01-13"))],
                          closure_reason="RC7")],
    )
    story = record_to_story(record)
    assert story == {
        "child": {"la_child_id": "C9", "upn_unknown": "UN1",
                  "expected_birth_date": D("2026-05-20"), "disabilities": []},
        "episodes": [{
            "referral": {"date": D("2026-01-12"), "nfa": False},
            "assessments": [{"start": D("2026-01-13")}],
            "s47": [{"start": D("2026-01-14")}],
            "cp_plans": [{"start": D("2026-02-02")}],
            "cin_plans": [{"start": D("2026-01-13")}],
        }],
    }
    assert story_to_record(story).episodes[0].closure_reason is None
    computed = record_to_story(record, WorkingDayCalendar(), computed=True)
    assert computed["episodes"][0]["s47"][0]["icpc_target"] == D("2026-02-04")
    assert computed["episodes"][0]["cp_plans"][0]["previous_plans"] == 0


def test_story_to_record_accepts_iso_strings() -> None:
    record = story_to_record({
        "child": {"la_child_id": "C1", "upn": "C201250001001", "birth_date": "2015-06-01",
                  "sex": "F", "ethnicity": "WBRI"},
        "episodes": [{"referral": {"date": "2025-05-01", "source": "2A"},
                      "cp_plans": [{"start": "2025-05-22", "reviews": ["2025-08-20"],
                                    "previous_plans": 3}],
                      "s47": [{"start": "2025-05-03", "icpc_target": "2025-05-23"}]}],
    })
    assert record.child.birth_date == D("2015-06-01")
    assert record.episodes[0].cp_plans[0].reviews == [D("2025-08-20")]
    assert record.episodes[0].s47s == [Section47(D("2025-05-03"))]


def test_json_round_trip_keeps_every_field() -> None:
    record = CaseRecord(
        child=child(disabilities=["AUT", "LD"]),
        episodes=[Episode(D("2025-05-01"), "2A", False, "N1",
                          [Assessment(D("2025-05-02"), D("2025-06-10"), ["1A"])],
                          [Section47(D("2025-05-03"), None, True)],
                          [], [CINPlan(D("2025-06-11"))], None, "RC7")],
    )
    data = record_to_json(record)
    text = json.dumps(data)
    assert '"2025-05-02"' in text
    assert data["episodes"][0]["closure_reason"] == "RC7"
    assert data["child"]["birth_date"] == "2015-06-01"
    assert record_from_json(json.loads(text)) == record


def test_clone_record_is_equal_and_independent() -> None:
    from pathlib import Path

    from carepath.core.yamlsource import load_yaml
    from carepath.engine.record.model import clone_record
    from carepath.engine.stories.story import parse_story

    def load(path: Path) -> dict[str, Any]:
        return parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))

    for path in sorted((Path(carepath.__file__).parent / "stories").glob("*.yaml")):
        record = story_to_record(load(path))
        twin = clone_record(record)
        assert twin == record
        for episode in twin.episodes:
            for plan in episode.cp_plans:
                plan.reviews.append(date(2030, 1, 1))
            episode.assessments.clear()
        twin.child.disabilities.append("AUT")
        assert record == story_to_record(load(path))
