"""The Children in Need census return (XML), from the canonical record.

The collection year ending 31 March ``year`` runs from 1 April ``year - 1`` to 31 March ``year``
(the reference date). A child is in the return when one of their episodes was open at some time in
the year: referred on or before the reference date and not closed before 1 April. Only those
episodes are written, and in them only what belongs to the year, as the DfE rules read it:

* anything dated after the reference date is left out: an assessment, enquiry or plan that started
  later; an authorisation, conference, plan end, review or closure after 31 March (the item is
  then open at the reference date, so an assessment authorised later has no factors yet and a
  closure after the year has no reason);
* work that finished before 1 April is left out: an assessment authorised before the year (rule
  8696), a section 47 enquiry whose conference was before the year (8715), or that needed no
  conference and started before the year, a child protection or child in need plan that ended
  before the year (8930, 4013);
* a child born after the reference date was unborn on it: the date of birth goes out as the
  expected date of birth, with sex ``U`` (rules 8520, 8750).

Review dates of a plan in the return are all kept up to the reference date (none of the rules
limits them to the year, and the DfE's review-timeliness reports need the earlier ones).

Computed items: ``InitialCPCtarget`` is 15 working days after the strategy discussion
(``S47ActualStartDate``) on the given calendar; ``NumberOfPreviousCPP`` counts every plan the
child had before, in any episode, whether or not that episode is in this year's return.

The XML is written with ``lxml.etree.xmlfile``: one ``<Child>`` is built, written and dropped at a
time, so memory does not grow with the number of children. The element order, cardinality and
codes are those of the CIN census 2025-26 schema (``schema/CIN_schema_2026.xsd``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import chain
from typing import IO

from lxml import etree

from carepath import __version__
from carepath.engine.clock import LONDON, now
from carepath.engine.record import (
    Assessment,
    CaseRecord,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
    icpc_target,
)
from carepath.engine.working_days import WorkingDayCalendar
from carepath.returns import CaseData, ReturnError

# The first census year written with <Sex> (2024-25); the element order is unchanged since.
FIRST_YEAR = 2025
LAST_YEAR = 2100
_LA_CODE = re.compile(r"\d{3}")


def census_year_bounds(year: int) -> tuple[date, date]:
    """The collection period of the census year ending 31 March ``year``: (1 April ``year - 1``,
    31 March ``year``), both included."""
    return date(year - 1, 4, 1), date(year, 3, 31)


def check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise ReturnError(
            f"The census year must be the year the collection ends, from {FIRST_YEAR} "
            f"(2024-25) on, like 2026 for 1 April 2025 to 31 March 2026 (not {year!r})"
        )


def check_la(la: str) -> None:
    if not isinstance(la, str) or not _LA_CODE.fullmatch(la):
        raise ReturnError(f"The LA code must be the council's 3-digit DfE number, like 201 "
                          f"(not {la!r})")


@dataclass(frozen=True)
class MissingItem:
    """An item the census needs that a child's record does not hold."""

    child: str
    item: str  # the census element, e.g. "Sex" or "CINdetails[2]/ReferralSource"

    def __str__(self) -> str:
        return f"{self.child}: {self.item}"


@dataclass
class CensusSummary:
    children: int = 0
    episodes: int = 0
    missing: list[MissingItem] = field(default_factory=list)


@dataclass(frozen=True)
class CensusChild:
    """A child as the census year sees them: the record cut to the year, and for each child
    protection plan in it (in order) the number of plans the child had before."""

    record: CaseRecord
    previous_cpp: tuple[int, ...]


# -- the year's view of a record --------------------------------------------------------------


def census_child(record: CaseRecord, year: int) -> CensusChild | None:
    """The part of ``record`` that goes in the census for ``year``; None when the child had no
    episode open in that year. ``record`` is not changed."""
    start, end = census_year_bounds(year)
    episodes: list[Episode] = []
    previous: list[int] = []
    plans_before = 0
    for ep in record.episodes:
        in_year = ep.referral_date <= end and (ep.closure_date is None or ep.closure_date >= start)
        if not in_year:
            plans_before += len(ep.cp_plans)
            continue
        plans: list[CPPlan] = []
        for plan in ep.cp_plans:
            kept = _cp_plan(plan, start, end)
            if kept is not None:
                plans.append(kept)
                previous.append(plans_before)
            plans_before += 1
        closed = ep.closure_date is not None and ep.closure_date <= end
        episodes.append(
            Episode(
                referral_date=ep.referral_date,
                referral_source=ep.referral_source,
                referral_nfa=ep.referral_nfa,
                primary_need=ep.primary_need,
                assessments=[a for a in (_assessment(a, start, end) for a in ep.assessments)
                             if a is not None],
                s47s=[s for s in (_s47(s, start, end) for s in ep.s47s) if s is not None],
                cp_plans=plans,
                cin_plans=[c for c in (_cin_plan(c, start, end) for c in ep.cin_plans)
                           if c is not None],
                closure_date=ep.closure_date if closed else None,
                closure_reason=ep.closure_reason if closed else None,
            )
        )
    if not episodes:
        return None
    child = replace(record.child, disabilities=list(record.child.disabilities))
    if child.birth_date is not None and child.birth_date > end:
        child = replace(child, birth_date=None, expected_birth_date=child.birth_date, sex="U")
    return CensusChild(CaseRecord(child=child, episodes=episodes), tuple(previous))


def _assessment(a: Assessment, start: date, end: date) -> Assessment | None:
    if a.start > end:
        return None
    if a.authorised is not None and a.authorised < start:
        return None  # completed in an earlier year
    if a.authorised is None or a.authorised > end:
        return Assessment(start=a.start)  # open at the reference date: no factors yet
    return Assessment(start=a.start, authorised=a.authorised, factors=list(a.factors))


def _s47(s: Section47, start: date, end: date) -> Section47 | None:
    if s.start > end:
        return None
    if s.icpc_date is not None:
        if s.icpc_date < start:
            return None  # its conference was in an earlier year
        if s.icpc_date > end:
            return Section47(start=s.start)  # open at the reference date
        return Section47(start=s.start, icpc_date=s.icpc_date)
    if s.icpc_not_required:
        # No date says when the enquiry ended: it belongs to the year it started in.
        return Section47(start=s.start, icpc_not_required=True) if s.start >= start else None
    return Section47(start=s.start)


def _cp_plan(p: CPPlan, start: date, end: date) -> CPPlan | None:
    if p.start > end or (p.end is not None and p.end < start):
        return None
    return CPPlan(
        start=p.start,
        initial_category=p.initial_category,
        latest_category=p.latest_category,
        reviews=[r for r in p.reviews if r <= end],
        end=p.end if p.end is not None and p.end <= end else None,
    )


def _cin_plan(c: CINPlan, start: date, end: date) -> CINPlan | None:
    if c.start > end or (c.end is not None and c.end < start):
        return None
    return CINPlan(start=c.start, end=c.end if c.end is not None and c.end <= end else None)


# -- XML --------------------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _opt(parent: etree._Element, tag: str, value: date | str | None) -> None:
    if value is not None:
        _sub(parent, tag, value.isoformat() if isinstance(value, date) else value)


def _flag(value: bool) -> str:
    return "1" if value else "0"


def header_element(year: int, la: str, software: str, serial_no: int = 1) -> etree._Element:
    _, end = census_year_bounds(year)
    header = etree.Element("Header")
    details = _sub(header, "CollectionDetails")
    _sub(details, "Collection", "CIN")
    _sub(details, "Year", str(year))
    _sub(details, "ReferenceDate", end.isoformat())
    source = _sub(header, "Source")
    _sub(source, "SourceLevel", "L")
    _sub(source, "LEA", la)
    _sub(source, "SoftwareCode", software)
    _sub(source, "Release", __version__)
    _sub(source, "SerialNo", f"{serial_no:03d}")
    moment = now().astimezone(LONDON).replace(tzinfo=None, microsecond=0)
    _sub(source, "DateTime", moment.isoformat())
    return header


def child_element(
    child: CensusChild, calendar: WorkingDayCalendar, missing: list[MissingItem] | None = None
) -> etree._Element:
    """The ``<Child>`` element for one child of the return. Items the census needs but the
    record lacks are left out (the file then fails the schema) and listed in ``missing``."""
    record = child.record
    c = record.child
    lacking = missing if missing is not None else []

    def need(value: str | None, item: str) -> str | None:
        if value is None or value == "":
            lacking.append(MissingItem(c.la_child_id, item))
            return None
        return value

    el = etree.Element("Child")
    ids = _sub(el, "ChildIdentifiers")
    _sub(ids, "LAchildID", c.la_child_id)
    _opt(ids, "UPN", c.upn)
    _opt(ids, "UPNunknown", c.upn_unknown)
    _opt(ids, "PersonBirthDate", c.birth_date)
    _opt(ids, "ExpectedPersonBirthDate", c.expected_birth_date)
    _opt(ids, "Sex", need(c.sex, "Sex"))

    chars = _sub(el, "ChildCharacteristics")
    _opt(chars, "Ethnicity", need(c.ethnicity, "Ethnicity"))
    if c.disabilities:
        disabilities = _sub(chars, "Disabilities")
        for code in c.disabilities:
            _sub(disabilities, "Disability", code)

    plans = iter(child.previous_cpp)
    for number, ep in enumerate(record.episodes, start=1):
        where = f"CINdetails[{number}]"
        d = _sub(el, "CINdetails")
        _sub(d, "CINreferralDate", ep.referral_date.isoformat())
        _opt(d, "ReferralSource", need(ep.referral_source, f"{where}/ReferralSource"))
        primary_need = ep.primary_need
        if primary_need is None and not ep.referral_nfa:
            need(None, f"{where}/PrimaryNeedCode")  # rule 8610
        _opt(d, "PrimaryNeedCode", primary_need)
        _opt(d, "CINclosureDate", ep.closure_date)
        _opt(d, "ReasonForClosure", ep.closure_reason)
        for a in ep.assessments:
            ae = _sub(d, "Assessments")
            _sub(ae, "AssessmentActualStartDate", a.start.isoformat())
            _opt(ae, "AssessmentAuthorisationDate", a.authorised)
            if a.factors:
                factors = _sub(ae, "FactorsIdentifiedAtAssessment")
                for code in a.factors:
                    _sub(factors, "AssessmentFactors", code)
        for cin in ep.cin_plans:
            ce = _sub(d, "CINPlanDates")
            _sub(ce, "CINPlanStartDate", cin.start.isoformat())
            _opt(ce, "CINPlanEndDate", cin.end)
        for s in ep.s47s:
            se = _sub(d, "Section47")
            _sub(se, "S47ActualStartDate", s.start.isoformat())
            _sub(se, "InitialCPCtarget", icpc_target(s, calendar).isoformat())
            _opt(se, "DateOfInitialCPC", s.icpc_date)
            _sub(se, "ICPCnotRequired", _flag(s.icpc_not_required))
        _sub(d, "ReferralNFA", _flag(ep.referral_nfa))
        for p in ep.cp_plans:
            pe = _sub(d, "ChildProtectionPlans")
            _sub(pe, "CPPstartDate", p.start.isoformat())
            _opt(pe, "CPPendDate", p.end)
            _opt(pe, "InitialCategoryOfAbuse",
                 need(p.initial_category, f"{where}/ChildProtectionPlans/InitialCategoryOfAbuse"))
            _opt(pe, "LatestCategoryOfAbuse",
                 need(p.latest_category, f"{where}/ChildProtectionPlans/LatestCategoryOfAbuse"))
            _sub(pe, "NumberOfPreviousCPP", str(next(plans)))
            if p.reviews:
                reviews = _sub(pe, "Reviews")
                for r in p.reviews:
                    _sub(reviews, "CPPreviewDate", r.isoformat())
    return el


def write_cin_census(
    cases: Iterable[CaseData | CaseRecord],
    year: int,
    la: str,
    out: IO[bytes],
    calendar: WorkingDayCalendar | None = None,
    software: str = "carepath",
    serial_no: int = 1,
) -> CensusSummary:
    """Write the CIN census XML for the year ending 31 March ``year`` to ``out``.

    ``cases`` is read once, in order; each child is written as soon as it is read. Raises
    :class:`ReturnError` for a bad year or LA code, or when no child had an episode open in the
    year (the schema needs at least one child); nothing is written then.
    """
    check_year(year)
    check_la(la)
    cal = calendar if calendar is not None else WorkingDayCalendar()
    summary = CensusSummary()

    def children() -> Iterator[etree._Element]:
        for item in cases:
            record = item.record if isinstance(item, CaseData) else item
            view = census_child(record, year)
            if view is None:
                continue
            summary.children += 1
            summary.episodes += len(view.record.episodes)
            yield child_element(view, cal, summary.missing)

    elements = children()
    first = next(elements, None)
    if first is None:
        start, end = census_year_bounds(year)
        raise ReturnError(
            f"No child had an episode open between {start.isoformat()} and {end.isoformat()}: "
            "there is nothing to return for that year"
        )
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("Message"):
            xf.write("\n  ")
            header = header_element(year, la, software, serial_no)
            etree.indent(header, space="  ", level=1)
            xf.write(header)
            xf.write("\n  ")
            with xf.element("Children"):
                for el in chain([first], elements):
                    etree.indent(el, space="  ", level=2)
                    xf.write("\n    ", el)
                xf.write("\n  ")
            xf.write("\n")
    out.write(b"\n")
    return summary
