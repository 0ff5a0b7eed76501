"""'Why is this due then?': due dates explained (engine/time/explain.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from carepath.adapters.packs import PackRegistry
from carepath.core.yamlsource import load_yaml
from carepath.engine.time.explain import explain_due, with_stored_due
from carepath.engine.time.timescales import Timescales, parse_timescales
from carepath.engine.time.working_days import england_bank_holiday_names

TIMESCALES = """
closure_days: [2025-12-29]
timescales:
  icpc: {title: Hold the conference, working_days: 15, from: s47.start}
  review: {title: First review, months: 3, from: cp_plan.start}
  visit: {title: Visit, days: 7, from: referral.date}
  cp_review:
    title: Review conference
    expression: "months_after(cp_plan.last_review, 6) if cp_plan.last_review else months_after(cp_plan.start, 3)"
  joint:
    title: Assessment alongside an enquiry
    expression: "working_days_after(referral.date, 45) if assessment.start <= working_days_after(referral.date, 1) else working_days_after(assessment.start, 45)"
"""


@pytest.fixture
def timescales() -> Timescales:
    return parse_timescales(load_yaml(TIMESCALES, "timescales.yaml"), "timescales.yaml")


def context(**dates: date | None) -> dict[str, dict[str, Any]]:
    ctx: dict[str, dict[str, Any]] = {
        "referral": {"date": None}, "assessment": {"start": None},
        "s47": {"start": None, "icpc_date": None},
        "cp_plan": {"start": None, "last_review": None},
        "care": {"start": None, "end": None}, "placement": {"start": None},
        "lac_review": {"last": None, "count": 0}, "missing": {"start": None, "end": None},
        "care_leaver": {"last_contact": None}, "child": {"birth_date": None, "age_years": None}}
    for key, value in dates.items():
        namespace, _, name = key.partition("__")
        ctx[namespace][name] = value
    return ctx


def test_bank_holidays_have_names() -> None:
    names = england_bank_holiday_names(2026)
    assert names[date(2026, 12, 25)] == "Christmas Day"
    assert names[date(2026, 12, 28)] == "Boxing Day (substitute day)"


def test_working_days_skip_christmas_by_name_and_closure_days() -> None:
    plain = parse_timescales(load_yaml(TIMESCALES.replace("[2025-12-29]", "[]"),
                                       "timescales.yaml"), "timescales.yaml")
    e = explain_due(plain, "icpc", context(s47__start=date(2025, 12, 12)))
    assert e.explained and e.kind == "working_days" and e.amount == 15
    assert e.rule == "15 working days from the strategy discussion"
    assert e.counted_from == date(2025, 12, 12)
    assert e.from_item == "s47.start"
    assert "strategy discussion" in (e.from_description or "")
    assert e.due == date(2026, 1, 7) == plain.due("icpc", context(s47__start=date(2025, 12, 12)))
    reasons = {d.date: d.reason for d in e.skipped}
    assert reasons[date(2025, 12, 25)] == "Christmas Day"
    assert reasons[date(2025, 12, 26)] == "Boxing Day"
    assert reasons[date(2026, 1, 1)] == "New Year's Day"
    assert reasons[date(2025, 12, 13)] == "Saturday" and reasons[date(2025, 12, 14)] == "Sunday"
    assert len(e.skipped) == 11 and all(date(2025, 12, 12) < d.date < e.due for d in e.skipped)
    text = " ".join(e.lines())
    assert "Wednesday 7 January 2026" in text and "Christmas Day (25 December 2025)" in text
    assert "8 weekend days" in text


def test_a_council_closure_day_is_named(timescales: Timescales) -> None:
    e = explain_due(timescales, "icpc", context(s47__start=date(2025, 12, 12)))
    assert e.due == date(2026, 1, 8)  # one working day later than without the closure day
    closure = [d for d in e.skipped if d.kind == "closure_day"]
    assert [(d.date, d.reason) for d in closure] == [(date(2025, 12, 29), "council closure day")]


def test_months_and_days_rules(timescales: Timescales) -> None:
    e = explain_due(timescales, "review", context(cp_plan__start=date(2025, 11, 30)))
    assert e.rule == "3 months from the start of the child protection plan"
    assert e.due == date(2026, 2, 28) and e.skipped == ()
    d = explain_due(timescales, "visit", context(referral__date=date(2025, 6, 1)))
    assert d.rule == "7 calendar days from the referral date" and d.due == date(2025, 6, 8)


def test_an_unrecorded_date_is_explained_not_raised(timescales: Timescales) -> None:
    e = explain_due(timescales, "icpc", context())
    assert not e.explained and e.due is None and e.counted_from is None
    assert e.rule == "15 working days from the strategy discussion"
    assert e.note is not None and "not recorded yet" in e.note
    assert e.as_json()["due"] is None


def test_an_expression_explains_the_branch_taken(timescales: Timescales) -> None:
    first = explain_due(timescales, "cp_review", context(cp_plan__start=date(2026, 1, 5)))
    assert first.rule == "3 months from the start of the child protection plan"
    assert first.from_item == "cp_plan.start" and first.due == date(2026, 4, 5)
    assert first.branch is not None and "is not recorded" in first.branch
    later = explain_due(timescales, "cp_review", context(
        cp_plan__start=date(2026, 1, 5), cp_plan__last_review=date(2026, 4, 1)))
    assert later.rule == "6 months from the last review conference"
    assert later.from_item == "cp_plan.last_review" and later.due == date(2026, 10, 1)
    assert later.counted_from == date(2026, 4, 1)
    assert later.branch is not None and " is recorded" in later.branch


def test_an_expression_over_working_days_names_its_base(timescales: Timescales) -> None:
    at_referral = explain_due(timescales, "joint", context(
        referral__date=date(2025, 12, 12), assessment__start=date(2025, 12, 12)))
    assert at_referral.from_item == "referral.date" and at_referral.kind == "working_days"
    assert at_referral.due == date(2026, 2, 19)  # the closure day counts too
    assert at_referral.due == timescales.due("joint", context(
        referral__date=date(2025, 12, 12), assessment__start=date(2025, 12, 12)))
    assert at_referral.amount == 45
    assert "Christmas Day" in {d.reason for d in at_referral.skipped}
    assert at_referral.branch is not None and "is true" in at_referral.branch
    later = explain_due(timescales, "joint", context(
        referral__date=date(2025, 10, 1), assessment__start=date(2025, 12, 12)))
    assert later.from_item == "assessment.start" and later.due == date(2026, 2, 19)
    assert later.rule == "45 working days from the start of the assessment"
    assert later.branch is not None and "is false" in later.branch
    unknown = explain_due(timescales, "joint", context())
    assert not unknown.explained and unknown.note is not None
    assert "not recorded yet" in unknown.note


def test_an_unknown_timescale_and_a_changed_due_date(timescales: Timescales) -> None:
    gone = explain_due(timescales, "nothing", context())
    assert not gone.explained and "no timescale 'nothing'" in (gone.note or "")
    e = explain_due(timescales, "visit", context(referral__date=date(2025, 6, 1)))
    assert with_stored_due(e, date(2025, 6, 8)).note is None
    moved = with_stored_due(e, date(2025, 6, 9))
    assert moved.note is not None and "9 June 2025" in moved.note
    assert moved.as_json()["note"] == moved.note


@pytest.mark.parametrize("pack", ["wt2023", "ics2010"])
def test_every_timescale_of_the_built_in_packs_is_explained(pack: str) -> None:
    loaded = PackRegistry().get(pack)
    ctx = context(referral__date=date(2025, 12, 12), assessment__start=date(2025, 12, 12),
                  s47__start=date(2025, 12, 12), s47__icpc_date=date(2026, 1, 5),
                  cp_plan__start=date(2026, 1, 5), care__start=date(2026, 1, 6),
                  care__end=date(2026, 2, 2), placement__start=date(2026, 1, 6),
                  missing__start=date(2026, 1, 20), missing__end=date(2026, 1, 22),
                  child__birth_date=date(2008, 3, 1), child__age_years=17)
    for name in loaded.timescales.items:
        e = explain_due(loaded.timescales, name, ctx)
        assert e.explained, (name, e.note)
        assert e.due == loaded.timescales.due(name, ctx), name
        assert e.from_item is not None and e.counted_from is not None, name
        assert e.lines()[0].startswith("Due "), name
        empty = explain_due(loaded.timescales, name, context())
        assert not empty.explained and empty.due is None, name
