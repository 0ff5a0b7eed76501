"""How simulated stories compare with the DfE's published figures. No I/O.

:func:`measure` works out, from stories (the normalised form ``generate_stories`` yields), the
measures the DfE publishes in *Characteristics of children in need* for the collection year
ending 31 March ``year``, the way it counts them; :data:`TARGETS` holds the published 2025
figures with their tables. ``docs/simulation.md`` shows both, and the tests hold the generator
to them within stated tolerances.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from carepath.core.ages import age_on
from carepath.engine.simulation.dates import add_months
from carepath.engine.time.working_days import WorkingDayCalendar

__all__ = ["Target", "TARGETS", "care_measures", "measure"]


@dataclass(frozen=True)
class Target:
    key: str
    what: str
    published: float  # percent
    tolerance: float  # percentage points the simulation may be off by
    source: str


_CIN_2025 = "DfE Characteristics of children in need 2025"
TARGETS: tuple[Target, ...] = (
    Target("referral_age_18_plus", "referrals of young people aged 18 or over", 0.0, 0.0,
           "a referral is of a child under 18 (or unborn): Children Act 1989 s.105"),
    Target("referral_monday", "referrals on a Monday", 19.0, 3.0,
           "assumption (the DfE does not publish referrals by day): weekdays alike"),
    Target("referral_weekend", "referrals on a Saturday or Sunday", 6.0, 3.0,
           "assumption: out-of-hours referrals, far fewer than on weekdays"),
    Target("assessment_weekend_start", "assessments starting on a Saturday or Sunday", 0.0,
           0.2, "assumption: assessments start on working days (out of hours: strategy "
           "discussions only)"),
    Target("assessment_41_45", "assessments completed in 41-45 working days", 18.9, 3.0,
           f"{_CIN_2025}, table C2"),
    Target("assessment_within_45", "assessments completed within 45 working days", 85.7, 3.0,
           f"{_CIN_2025}, table C2"),
    Target("icpc_0_10", "initial conferences 0-10 working days after the strategy discussion",
           8.7, 3.0, f"{_CIN_2025}, table C4"),
    Target("icpc_11_15", "initial conferences 11-15 working days after", 72.7, 5.0,
           f"{_CIN_2025}, table C4"),
    Target("icpc_21_plus", "initial conferences 21 or more working days after", 9.7, 3.0,
           f"{_CIN_2025}, table C4"),
    Target("cp_ended_3_months", "plans ended in the year that lasted 3 months or less", 15.9,
           4.0, f"{_CIN_2025}, table D7"),
    Target("cp_ended_3_6_months", "... more than 3 months up to 6 months", 11.0, 4.0,
           f"{_CIN_2025}, table D7"),
    Target("cp_ended_6_12_months", "... more than 6 months, less than 1 year", 43.5, 5.0,
           f"{_CIN_2025}, table D7"),
    Target("cp_ended_1_2_years", "... 1 year, less than 2 years", 25.2, 5.0,
           f"{_CIN_2025}, table D7"),
    Target("cp_ended_2_years", "... 2 years or more", 4.4, 2.5, f"{_CIN_2025}, table D7"),
    Target("cp_second_or_later", "plans starting in the year that are the child's second or "
           "later", 23.0, 5.0, f"{_CIN_2025}, table D3 (about a fifth; figure as quoted in "
           "issue 11)"),
)


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def measure(stories: Iterable[Mapping[str, Any]], year: int,
            calendar: WorkingDayCalendar | None = None) -> dict[str, Any]:
    """The measures of :data:`TARGETS` (percent) for the collection year ending 31 March
    ``year``, and the counts they are out of (``n_...``)."""
    cal = calendar if calendar is not None else WorkingDayCalendar()
    start, end = date(year - 1, 4, 1), date(year, 3, 31)

    def in_year(day: date | None) -> bool:
        return day is not None and start <= day <= end

    referrals = adults = mondays = weekends = 0
    assessments = a_started = a_weekend = a_41_45 = a_45 = 0
    icpcs = i_0_10 = i_11_15 = i_21 = 0
    ended: list[str] = []
    starting = second = 0
    for story in stories:
        child = story["child"]
        birth = child.get("birth_date")
        plans_before = 0
        for e in story["episodes"]:
            day = e["referral"]["date"]
            if in_year(day):
                referrals += 1
                adults += isinstance(birth, date) and age_on(birth, day) >= 18
                mondays += day.weekday() == 0
                weekends += day.weekday() >= 5
            for a in e.get("assessments", []):
                if in_year(a["start"]):
                    a_started += 1
                    a_weekend += a["start"].weekday() >= 5
                if in_year(a.get("authorised")):
                    assessments += 1
                    days = cal.working_days_between(a["start"], a["authorised"])
                    a_41_45 += 41 <= days <= 45
                    a_45 += days <= 45
            for s in e.get("s47", []):
                if in_year(s.get("icpc_date")):
                    icpcs += 1
                    days = cal.working_days_between(s["start"], s["icpc_date"])
                    i_0_10 += days <= 10
                    i_11_15 += 11 <= days <= 15
                    i_21 += days >= 21
            for p in e.get("cp_plans", []):
                if in_year(p["start"]):
                    starting += 1
                    second += plans_before > 0
                plans_before += 1
                if in_year(p.get("end")):
                    ended.append(_length(p["start"], p["end"]))
    return {
        "referral_age_18_plus": _pct(adults, referrals),
        "referral_monday": _pct(mondays, referrals),
        "referral_weekend": _pct(weekends, referrals),
        "assessment_weekend_start": _pct(a_weekend, a_started),
        "assessment_41_45": _pct(a_41_45, assessments),
        "assessment_within_45": _pct(a_45, assessments),
        "icpc_0_10": _pct(i_0_10, icpcs),
        "icpc_11_15": _pct(i_11_15, icpcs),
        "icpc_21_plus": _pct(i_21, icpcs),
        "cp_ended_3_months": _pct(ended.count("0-3"), len(ended)),
        "cp_ended_3_6_months": _pct(ended.count("3-6"), len(ended)),
        "cp_ended_6_12_months": _pct(ended.count("6-12"), len(ended)),
        "cp_ended_1_2_years": _pct(ended.count("12-24"), len(ended)),
        "cp_ended_2_years": _pct(ended.count("24+"), len(ended)),
        "cp_second_or_later": _pct(second, starting),
        "n_referrals": referrals, "n_assessments": assessments, "n_icpcs": icpcs,
        "n_cp_ended": len(ended), "n_cp_started": starting,
        "assessment_weekend_starts": a_weekend,
    }


def _length(start: date, end: date) -> str:
    """The DfE's bands of a plan's length (table D7)."""
    if end <= add_months(start, 3):
        return "0-3"
    if end <= add_months(start, 6):
        return "3-6"
    if end < add_months(start, 12):
        return "6-12"
    if end < add_months(start, 24):
        return "12-24"
    return "24+"


_FOSTER = ("U1", "U2", "U3", "U4", "U5", "U6")
_CARE_ORDERS = ("C1", "C2")
_AGED_OUT = ("E5", "E6", "E17", "E7", "E8", "E9")


def care_measures(stories: Iterable[Mapping[str, Any]], year: int) -> dict[str, float]:
    """The looked-after measures of ``docs/simulation.md`` (percentages), from stories with a
    ``looked_after`` record, counted as the DfE's *Children looked after in England* counts them:
    legal status and placement of the children looked after on 31 March ``year``; how care
    ended for those who ceased in the year; missing episodes and placements in the year
    (children on agreed short breaks, V3/V4, left out as the DfE leaves them out)."""
    first, last = date(year - 1, 4, 1), date(year, 3, 31)
    on_day = in_year = ceased = 0
    care_order = s20 = placement_order = foster = adoption_placement = homes = 0
    home = adopted = sgo = aged_out = missing = three_moves = 0
    for story in stories:
        care = story.get("looked_after")
        if not care or not care.get("periods"):
            continue
        periods = care["periods"]
        if any(ls["code"] in ("V3", "V4") for ls in care.get("legal_statuses", ())):
            continue  # the DfE leaves children on short breaks out of these figures
        if not any(p["start"] <= last and p.get("end", last) >= first for p in periods):
            continue
        in_year += 1
        if any(m["start"] >= first for m in care.get("missing", ())):
            missing += 1
        if sum(1 for p in care.get("placements", ()) if p.get("end", last) >= first
               and p["start"] <= last) >= 3:
            three_moves += 1
        for p in periods:
            end = p.get("end")
            if end is not None and first <= end <= last:
                ceased += 1
                reason = p.get("reason_ceased")
                home += reason in ("E4A", "E4B", "E13")
                adopted += reason in ("E11", "E12")
                sgo += reason in ("E43", "E44", "E45", "E46", "E47", "E48")
                aged_out += reason in _AGED_OUT
        if "end" in periods[-1]:
            continue
        on_day += 1
        status = care["legal_statuses"][-1]["code"]
        care_order += status in _CARE_ORDERS
        s20 += status == "V2"
        placement_order += status == "E1"
        kind = care["placements"][-1]["type"]
        foster += kind in _FOSTER
        adoption_placement += kind.startswith("A")
        homes += kind.startswith("K") or kind.startswith("R")
    return {
        "looked_after_31_march": float(on_day), "looked_after_in_year": float(in_year),
        "care_order": _pct(care_order, on_day), "section_20": _pct(s20, on_day),
        "placement_order": _pct(placement_order, on_day), "foster": _pct(foster, on_day),
        "placed_for_adoption": _pct(adoption_placement, on_day),
        "childrens_homes": _pct(homes, on_day),
        "ceased_home": _pct(home, ceased), "ceased_adopted": _pct(adopted, ceased),
        "ceased_sgo": _pct(sgo, ceased), "ceased_18_plus": _pct(aged_out, ceased),
        "missing": _pct(missing, in_year), "three_placements": _pct(three_moves, in_year),
    }
