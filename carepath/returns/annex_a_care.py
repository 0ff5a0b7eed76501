"""Ofsted's Annex A lists 8 (children looked after), 9 (care leavers) and 10 (adoption), from the
looked-after record, worked out from the same 903 episodes as the SSDA903 return
(:func:`~carepath.engine.record.lac_episodes.derive_episodes`), so the lists and the 903 agree.

Rows are lists of cell values in the order of :data:`CARE_LIST_COLUMNS` (the liia-tools Annex A
schema, 2026 version: ``Sex`` for ``Gender``); dates are :class:`~datetime.date`, written by
:func:`carepath.returns.annex_a.write_annex_a` as ``dd/mm/yyyy``. "The last 12 months" is the
twelve months ending on the period's last day (1 April to 31 March for a period ending 31 March:
the 903's collection year). Everything is as it stood on the period's last day.

**List 8**: one row per child looked after at some time in the period (a period of care open
then), from their latest such period; periods that are only short breaks (V3/V4) are left out
(Annex A has no legal status for them: the schema's error bucket).

================================================  ==============================================
Column                                            Source
================================================  ==============================================
UASC within the Last 12 Months                    recorded UASC, status not ceased before the 12
                                                  months (``uasc``, ``uasc_ceased``)
Date Started to be Looked After                   the period's first episode (RNE S) DECOM
Child's Category of Need                          the period's CIN code, lettered group
Second or subsequent period in 12 months          another period of care open in the 12 months
Start date of current legal status / Legal Status the run of latest episodes with the latest LS;
                                                  LS group (below)
Date of Latest Statutory Review                   latest LAC review of the period held by the end
Date of Last Social Work Visit                    blank: the record holds no visits
Permanence plan                                   blank: the record holds no permanence plan
Date of Last IRO Visit / Contact                  blank: the record holds no IRO contacts
Date of Last Health Assessment / Dental Check     blank: OC2 holds yes/no for the year, no date
Number of Placements in the Last 12 months        placements (below) open at some time in them
Date / Reason Ceased to be Looked After           the period's last episode DEC and REC group,
                                                  when it ended by the period's end
Start Date of Most Recent Placement, Placement    the latest placement: its first episode's
Type, Provider, postcode, URN                     DECOM, PLACE group, provider (below), PL_POST,
                                                  URN
Placement Location, LA of Placement               the council of PL_POST from the ``locate``
                                                  function given; blank (listed) without it
Missing / Absent episodes in 12 months            Missing rows M / A open at some time in them
Return Interview offered / accepted               of the last missing (M) episode ended by then
Allocated Team, Allocated Worker                  given (:class:`CareCase`); the worker, else the
                                                  social worker (SW_ID) allocated on the last
                                                  day; else ``Unallocated``
================================================  ==============================================

Groups (``looked_after.md`` §5, the schema's category maps): legal status a) C1, b) C2, c) D1,
d) E1, e) V2, f) L1-L3, g) J1-J3; placement type a) U1-U6, b) A3-A6, c) P1, e) P3, g) K1, h) K2,
i) R1, j) R2, k) R3, l) R5, m) S1, o) T0-T4, and, **chosen here because the schema (January 2025)
has no group for them**: K3 -> f) Residential accommodation (the successor of H5, which the
schema maps there) and Z11-Z14 -> n) Other placements (the split of Z1). Provider: PR1 a) Own
LA, PR4 b) Private, PR2/PR3/PR5 c) Other, and **PR0 (parents) -> c) Other**: the schema lists
PR0 under both, its Ofsted-template spelling ``a) PR0: Parents/Parental responsibility`` under
c), and parents are not the council's provision. A placement the 903 gives no provider (T0-T4,
Z11-Z14) is c) Other, as the schema maps "NOT REQUIRED" and "-". Reason ceased: E11/E12 a),
E2 b), E3 c), E4A/E4B d), E13 and E17 e), E41 f), E45-E48 g), E5/E6 h), E7 i), E9 j), E14 k),
E15 l), E16 m), E8 n).

A placement is a run of episodes from one that changes the placement (RNE S, P, B, T or U) to
the next; temporary placements (T0-T4) and the return from one to the placement the child left
(same type, carer, provider, URN and postcode) are not counted as placements.

**List 9**: one row per young person who, on the period's last day, is 16 or over and is a care
leaver (or an eligible child), by :func:`leaving_care_category`. Allocated Personal Advisor:
given (:class:`CareCase`), else the one named at the latest care-leaver contact
(``care_leaver.personal_adviser``), else blank (listed). Latest Pathway Plan Review
Date: blank (the record holds no pathway plans). LA in Touch, Latest Date of Contact,
accommodation, suitability and activity: the latest care-leaver contact (the 903's OC3 codes) by
the last day: IN_TOUCH YES a), NO/REFU/NREQ b), DIED/RHOM d) Exclude, no contact c) Not recorded;
ACCOM letter -> type of accommodation, digit 1/2 -> a) Suitable / b) Not suitable, else c) (d)
for an excluded young person); ACTIV ``0`` and ACCOM ``0`` (not known) are blank.

**List 10**: one row per decision that the child should be placed for adoption made by the
period's last day and still live in the period (not reversed, and the child not adopted, before
it began). Family identifier: blank (the record holds none). Date the Child Entered Care: the
start of the period of care the decision was made in. Placement order: the first E1 episode of
that period (the 903's legal status), else the date recorded on the decision. Date placed for
adoption: the first A3-A6 episode of the period on or after the decision. Adoption order: the
period's end when it ended E11/E12 (the 903's DEC). Reversal and reason (RD1-RD4 -> a)-d)) as
recorded. FFA / concurrent planning: the first U2/U5 episode of the period.

Dates after the period's last day are left out (they had not happened yet).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from carepath.core.ages import birthday
from carepath.core.errors import RecordError
from carepath.core.looked_after_codes import (
    ADOPTED_REASONS,
    ADOPTION_PLACEMENTS,
    NO_PROVIDER_PLACEMENTS,
    SHORT_BREAK_STATUSES,
    TEMPORARY_PLACEMENTS,
)
from carepath.engine.record.lac_episodes import CareEpisode, derive_episodes, sorted_periods
from carepath.engine.record.looked_after import LookedAfter, PeriodOfCare, check_looked_after
from carepath.returns.annex_a import (
    ETHNICITY,
    NO,
    PRIMARY_NEED,
    SEX,
    UNALLOCATED,
    YES,
    age_in_years,
    disability,
    months_before,
)
from carepath.returns.annex_a_groups import (
    ACCOMMODATION,
    ACTIVITY,
    ELIGIBLE,
    FORMER_RELEVANT,
    IN_TOUCH,
    LEGAL_STATUS,
    NO_LONGER_PLACED,
    NOT_RECORDED,
    OTHER_PROVIDER,
    PLACEMENT_TYPE,
    PROVIDER,
    QUALIFYING,
    REASON_CEASED,
    RELEVANT,
    SUITABILITY,
    SUITABILITY_EXCLUDE,
    SUITABILITY_UNKNOWN,
)
from carepath.returns.ssda903 import LookedAfterChild

_CHILD = ["Child Unique ID", "Sex", "Ethnicity", "Date of Birth", "Age of Child (Years)"]
_DISABILITY = "Does the Child have a Disability"
_ALLOCATED = ["Allocated Team", "Allocated Worker"]

CARE_LIST_COLUMNS: dict[str, list[str]] = {
    "List 8": [
        *_CHILD, "Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N)",
        _DISABILITY, "Date Started to be Looked After", "Child's Category of Need",
        "Is this a second or subsequent period of being a Looked After Child within the last 12 "
        "months (Y/N)",
        "Start date of current legal status", "Child's Legal Status",
        "Date of Latest Statutory Review", "Date of Last Social Work Visit",
        "What is the permanence plan for this child?",
        "Date of Last IRO Visit / Contact to the Child", "Date of Last Health Assessment",
        "Date of Last Dental Check", "Number of Placements in the Last 12 months",
        "Date Ceased to be Looked After", "Reason Ceased to be Looked After",
        "Start Date of Most Recent Placement", "Placement Type", "Placement Provider",
        "Placement postcode", "URN of Placement", "Placement Location", "LA of Placement",
        "Number of Episodes the Child has been 'Missing' from their Placement in the last 12 "
        "months",
        "Number of Episodes the Child has been 'Absent' from their Placement in the last 12 "
        "months",
        "Was the child offered a Return Interview after their last missing episode (Y/N)?",
        "Did the child accept a Return Interview after their last missing episode (Y/N)?",
        *_ALLOCATED],
    "List 9": [
        *_CHILD, "Unaccompanied Asylum Seeking Child (UASC), or formerly UASC if 18 or over (Y/N)",
        _DISABILITY, *_ALLOCATED, "Allocated Personal Advisor", "Eligibility Category",
        "Latest Pathway Plan Review Date", "LA in Touch", "Latest Date of Contact",
        "Type of Accommodation", "Suitability of Accommodation", "Activity Status"],
    "List 10": [
        "Child Unique ID", "Family identifier", "Sex", "Ethnicity", "Date of Birth",
        "Age of Child (Years)", _DISABILITY, "Date the Child Entered Care",
        "Date of Decision that Child Should be Placed for Adoption", "Date of Placement Order",
        "Date of Matching Child and Prospective Adopters", "Date Placed for Adoption",
        "Date of Adoption Order",
        "Date of Decision that Child Should No Longer be Placed for Adoption",
        "Reason Why Child No Longer Placed for Adoption",
        "Date the child was placed for fostering in FFA or concurrent planning placement"],
}

# Columns the schema allows blank ("canbeblank: true"); every other column is required.
_BLANK_ALLOWED = {
    "Date of Birth", "Age of Child (Years)", "Family identifier",
    "Date of Latest Statutory Review", "Date of Last Social Work Visit",
    "What is the permanence plan for this child?",
    "Date of Last IRO Visit / Contact to the Child", "Date of Last Health Assessment",
    "Date of Last Dental Check", "Date Ceased to be Looked After",
    "Reason Ceased to be Looked After", "URN of Placement",
    "Was the child offered a Return Interview after their last missing episode (Y/N)?",
    "Did the child accept a Return Interview after their last missing episode (Y/N)?",
    "Latest Pathway Plan Review Date", "Latest Date of Contact", "Type of Accommodation",
    "Suitability of Accommodation", "Activity Status", "Date of Placement Order",
    "Date of Matching Child and Prospective Adopters", "Date Placed for Adoption",
    "Date of Adoption Order",
    "Date of Decision that Child Should No Longer be Placed for Adoption",
    "Reason Why Child No Longer Placed for Adoption",
    "Date the child was placed for fostering in FFA or concurrent planning placement",
}
CARE_REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(columns) - _BLANK_ALLOWED for name, columns in CARE_LIST_COLUMNS.items()}

_PLACEMENT_CHANGES = frozenset({"S", "P", "B", "T", "U"})
_FFA_PLACEMENTS = frozenset({"U2", "U5"})
THIRTEEN_WEEKS = 91
LEAVING_CARE_AGE = 21  # from 21 to 25 only with a contact in the last 12 months
_NOT_CARE_LEAVERS = ADOPTED_REASONS | {"E2", "E3", "E15"}  # adopted, died, transferred, adult

Locate = Callable[[str], str | None]


@dataclass(frozen=True)
class CareCase:
    """A looked-after child with who holds the case (each item blank when not known)."""

    looked_after: LookedAfterChild
    team: str | None = None
    worker: str | None = None
    personal_adviser: str | None = None


@dataclass(frozen=True)
class CareLists:
    """What lists 8 to 10 are written from: the children (streamed once) and, optionally, how to
    find a placement postcode's council (its name as Annex A spells it) and the council's own
    name, for "LA of Placement" and "Placement Location"."""

    children: Iterable[CareCase | LookedAfterChild]
    council: str | None = None
    locate: Locate | None = None


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else (YES if value else NO)


def _upto(value: date | None, end: date) -> date | None:
    return value if value is not None and value <= end else None


def _adviser(record: LookedAfter, end: date) -> str | None:
    """The personal adviser named at the latest care-leaver contact up to ``end`` naming one."""
    named = [c for c in record.care_leaver_contacts
             if c.personal_adviser and c.contacted <= end]
    return max(named, key=lambda c: c.contacted).personal_adviser if named else None


def first_of_last_12_months(end: date) -> date:
    """The first day of the twelve months ending on ``end`` (1 April for 31 March)."""
    return months_before(end, 12) + timedelta(days=1)


def care_rows(item: CareCase | LookedAfterChild, start: date, end: date,
              council: str | None = None,
              locate: Locate | None = None) -> list[tuple[str, list[Any]]]:
    """One child's rows of lists 8, 9 and 10 for the period ``start`` to ``end``. RecordError
    from the child's record is raised with the child's id in the message."""
    case = item if isinstance(item, CareCase) else CareCase(item)
    child, record = case.looked_after.child, case.looked_after.record
    try:
        check_looked_after(record)
        periods = sorted_periods(record)
        episodes = derive_episodes(record)
    except RecordError as exc:
        raise RecordError(f"Child {child.la_child_id}: {exc.message}") from None
    by_period: list[list[CareEpisode]] = [[] for _ in periods]
    for e in episodes:
        by_period[e.period].append(e)
    full = [i for i, eps in enumerate(by_period)
            if not all(e.legal_status in SHORT_BREAK_STATUSES for e in eps)]
    person = [child.la_child_id, SEX.get(child.sex or ""),
              ETHNICITY.get(child.ethnicity or "", child.ethnicity), child.birth_date,
              age_in_years(child.birth_date, end)]
    team = case.team or UNALLOCATED
    worker = case.worker or next(
        (s.worker for s in record.social_workers
         if s.start <= end and (s.end is None or s.end > end)), UNALLOCATED)
    out: list[tuple[str, list[Any]]] = []
    in_period = [i for i in full if _open_between(periods[i], start, end)]
    if in_period:
        out.append(("List 8", [*person, *_list_8(case, periods, by_period, full, in_period[-1],
                                                 end, council, locate), team, worker]))
    category = leaving_care_category(child.birth_date, [periods[i] for i in full], end)
    age = age_in_years(child.birth_date, end)
    if category is not None and age is not None and age >= LEAVING_CARE_AGE:
        since = first_of_last_12_months(end)  # 21 to 25: while the council is still in touch
        if not any(since <= c.contacted <= end for c in record.care_leaver_contacts):
            category = None
    if category is not None:
        out.append(("List 9", [*person, _yes_no(_uasc_leaver(record, child.birth_date, end)),
                               disability(child), team, worker,
                               case.personal_adviser or _adviser(record, end),
                               category, *_contact(record, end, category)]))
    for row in _list_10(record, periods, by_period, start, end):
        out.append(("List 10", [child.la_child_id, None, *person[1:], disability(child), *row]))
    return out


def _open_between(period: PeriodOfCare, first: date, last: date) -> bool:
    """Looked after at some time from ``first`` to ``last`` (a period ending on ``first``, the
    day the child ceased to be looked after, counts)."""
    return period.start <= last and (period.end is None or period.end >= first)


def care_list_rows(children: Iterable[CareCase | LookedAfterChild], start: date, end: date,
                   council: str | None = None,
                   locate: Locate | None = None) -> Iterator[tuple[str, list[Any]]]:
    """Every row of lists 8 to 10, child by child, as ``(sheet, row)``."""
    for item in children:
        yield from care_rows(item, start, end, council, locate)


# -- list 8 ------------------------------------------------------------------------------------


def _placements(episodes: Sequence[CareEpisode]) -> list[list[CareEpisode]]:
    """The episodes grouped by placement (a run from one that changes the placement)."""
    groups: list[list[CareEpisode]] = []
    for e in episodes:
        if e.rne in _PLACEMENT_CHANGES or not groups:
            groups.append([e])
        else:
            groups[-1].append(e)
    return groups


def _key(e: CareEpisode) -> tuple[object, ...]:
    return (e.period, e.placement, e.carer, e.provider, e.urn, e.postcode)


def counted_placements(episodes: Sequence[CareEpisode], since: date,
                       end: date) -> list[list[CareEpisode]]:
    """The placements open at some time from ``since`` to ``end`` that count: not temporary
    (T0-T4) and not the return from a temporary one to the placement the child left."""
    groups = _placements([e for e in episodes if e.legal_status not in SHORT_BREAK_STATUSES])
    counted = []
    for i, g in enumerate(groups):
        last_end = g[-1].end
        if g[0].start > end or (last_end is not None and last_end < since):
            continue
        if g[0].placement in TEMPORARY_PLACEMENTS:
            continue
        if (i >= 2 and groups[i - 1][0].placement in TEMPORARY_PLACEMENTS
                and groups[i - 1][0].period == g[0].period
                and _key(groups[i - 2][-1]) == _key(g[0])):
            continue  # back from hospital, holiday...: the same placement
        counted.append(g)
    return counted


def _list_8(case: CareCase, periods: list[PeriodOfCare], by_period: list[list[CareEpisode]],
            full: list[int], index: int, end: date, council: str | None,
            locate: Locate | None) -> list[Any]:
    record = case.looked_after.record
    since = first_of_last_12_months(end)
    period = periods[index]
    eps = [e for e in by_period[index] if e.start <= end]
    latest = eps[-1]
    ls_start = latest.start
    for e in reversed(eps):
        if e.legal_status != latest.legal_status:
            break
        ls_start = e.start
    ceased = latest.end if latest.end is not None and latest.end <= end else None
    reviews = [r.held for r in record.reviews if period.start <= r.held <= end]
    open_in_year = [i for i in full
                    if _open_between(periods[i], since, end)]
    all_full = [e for i in full for e in by_period[i]]
    placement = _placements(eps)[-1][0]
    if latest.placement in NO_PROVIDER_PLACEMENTS:
        provider: str | None = OTHER_PROVIDER
    else:
        provider = PROVIDER.get(latest.provider or "")
    area = locate(latest.postcode) if locate is not None and latest.postcode else None
    location = None if area is None or council is None else (
        "a) In" if area == council else "b) Out")
    missing = [m for m in record.missing
               if m.start <= end and (m.end is None or m.end >= since)]
    ended = [m for m in missing if m.kind == "M" and m.end is not None and m.end <= end]
    last_missing = max(ended, key=lambda m: m.start) if ended else None
    return [
        _yes_no(record.uasc and (record.uasc_ceased is None or record.uasc_ceased >= since)),
        disability(case.looked_after.child), eps[0].start,
        PRIMARY_NEED.get(period.need or "", period.need),
        _yes_no(len(open_in_year) > 1), ls_start, LEGAL_STATUS.get(latest.legal_status),
        max(reviews) if reviews else None, None, None, None, None, None,
        len(counted_placements(all_full, since, end)),
        ceased, REASON_CEASED.get(latest.reason_ceased or "") if ceased else None,
        placement.start, PLACEMENT_TYPE.get(latest.placement), provider, latest.postcode,
        latest.urn, location, area,
        sum(1 for m in missing if m.kind == "M"), sum(1 for m in missing if m.kind == "A"),
        _yes_no(last_missing.rhi_offered) if last_missing else None,
        _yes_no(last_missing.rhi_accepted) if last_missing else None,
    ]


# -- list 9 ------------------------------------------------------------------------------------


def leaving_care_category(born: date | None, periods: Sequence[PeriodOfCare],
                          on: date) -> str | None:
    """The young person's leaving-care category on ``on`` (Children (Leaving Care) Act 2000;
    Care Leavers (England) Regulations 2010), or None when they are not one. ``periods`` are
    their periods of care other than short breaks (which do not count, CPPCR reg 48).

    * Looked after at least 13 weeks (91 days, in total) since their 14th birthday, and at some
      time on or after their 16th birthday: **eligible** while 16 or 17 and still looked after;
      **relevant** when 16 or 17 and no longer looked after; **former relevant** from 18.
    * Looked after at some time on or after their 16th birthday without those 13 weeks, and no
      longer looked after: **qualifying**.
    * Under 16, looked after at 16 or later in neither way, or still looked after without the
      13 weeks: not a care leaver (None). So is a child whose last period ended by adoption,
      death, transfer to another council's care or an age assessment finding them 18 or over.
    * Up to the 21st birthday; from 21 to 25 only while a care-leaver contact in the 12 months
      up to ``on`` shows the council still supports them (see :func:`care_rows`, which checks
      it; here the age alone: under 25).

    A relevant child who has lived at home for six months stops being relevant; the record says
    so only through the contact's ``RHOM``, which list 9 shows as "Exclude" in LA in Touch.
    """
    if born is None:
        return None
    age = age_in_years(born, on)
    spans = [p for p in periods if p.start <= on]
    if age is None or age < 16 or age >= 25 or not spans:
        return None
    last = spans[-1]
    in_care = last.end is None or last.end > on
    if not in_care and last.reason_ceased in _NOT_CARE_LEAVERS:
        return None
    b14, b16, b18 = birthday(born, 14), birthday(born, 16), birthday(born, 18)
    days = 0
    for p in spans:
        until = min(p.end or on, on, b18)
        days += max(0, (until - max(p.start, b14)).days)
    at_16 = any(p.end is None or p.end > b16 for p in spans)
    if not at_16:
        return None
    if in_care:
        return ELIGIBLE if age < 18 and days >= THIRTEEN_WEEKS else None
    if days >= THIRTEEN_WEEKS:
        return RELEVANT if age < 18 else FORMER_RELEVANT
    return QUALIFYING


def _uasc_leaver(record: LookedAfter, born: date | None, on: date) -> bool:
    """UASC now, or formerly UASC if 18 or over."""
    if not record.uasc:
        return False
    age = age_in_years(born, on)
    return (age is not None and age >= 18) or record.uasc_ceased is None \
        or record.uasc_ceased > on


def _contact(record: LookedAfter, end: date, category: str) -> list[Any]:
    contacts = [c for c in record.care_leaver_contacts if c.contacted <= end]
    if not contacts:
        return [None, NOT_RECORDED, None, None, SUITABILITY_UNKNOWN, None]
    c = max(contacts, key=lambda c: c.contacted)
    in_touch = IN_TOUCH.get(c.in_touch, NOT_RECORDED)
    accom = c.accommodation or ""
    if in_touch == "d) Exclude":
        suitable = SUITABILITY_EXCLUDE
    else:
        suitable = SUITABILITY.get(accom[1:], SUITABILITY_UNKNOWN)
    return [None, in_touch, c.contacted, ACCOMMODATION.get(accom[:1]), suitable,
            ACTIVITY.get(c.activity or "")]


# -- list 10 -----------------------------------------------------------------------------------


def _list_10(record: LookedAfter, periods: list[PeriodOfCare],
             by_period: list[list[CareEpisode]], start: date,
             end: date) -> Iterator[list[Any]]:
    for a in sorted(record.adoptions, key=lambda a: a.decision):
        if a.decision > end or (a.reversed is not None and a.reversed < start):
            continue
        index = next((i for i, p in reversed(list(enumerate(periods)))
                      if p.start <= a.decision), None)
        eps = [e for e in by_period[index] if e.start <= end] if index is not None else []
        last = eps[-1] if eps else None
        adopted = (last.end if last is not None and last.reason_ceased in ADOPTED_REASONS
                   else None)
        adopted = _upto(adopted, end)
        if adopted is not None and adopted < start:
            continue
        order = next((e.start for e in eps if e.legal_status == "E1"),
                     _upto(a.placement_order, end))
        placed = next((e.start for e in eps
                       if e.placement in ADOPTION_PLACEMENTS and e.start >= a.decision), None)
        ffa = next((e.start for e in eps if e.placement in _FFA_PLACEMENTS), None)
        reversed_on = _upto(a.reversed, end)
        yield [
            eps[0].start if eps else None, a.decision, order, _upto(a.matched, end), placed,
            adopted, reversed_on,
            NO_LONGER_PLACED.get(a.reversed_reason or "") if reversed_on else None, ffa,
        ]
