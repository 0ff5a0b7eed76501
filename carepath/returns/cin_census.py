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

A referral still waiting for its decision on the reference date (typically one received on
31 March and decided after the census was written) is a referral of the year, and it is in the
return as the record stands: an open episode, ``ReferralNFA`` 0 (it has not been decided as a
referral with no further action: writing 1 would claim a decision nobody has made) and, as rule
8610 needs a primary need on every referral not flagged NFA, ``PrimaryNeedCode`` N0, the DfE's
"not stated" code for a need not identified yet. The same holds for any episode still open at
the reference date whose need the record does not hold yet (an assessment under way in a pack
that records the need at its end). Each referral written with N0 is listed in the summary's
notes, so the council can record the decision and write the file again. Likewise
``UPNunknown`` UN7 ("referral with no further action") is left out, with a note, for a child one
of whose episodes in the return is not NFA (rule 8772): UN7 does not hold for that child, and the
record does not say which other reason does.

What the census cannot write truthfully is never filled in: it is listed in the summary's
``missing`` (the file then fails the DfE checks), for example a closed episode without a primary
need and not NFA (rule 8610), or a second child with the same UPN (rule 1520: the census cannot
tell which one is right).

Review dates of a plan in the return are all kept up to the reference date (none of the rules
limits them to the year, and the DfE's review-timeliness reports need the earlier ones).

Computed items: ``InitialCPCtarget`` is 15 working days after the strategy discussion
(``S47ActualStartDate``) on the given calendar; ``NumberOfPreviousCPP`` counts every plan the
child had before, in any episode, whether or not that episode is in this year's return.

The record holds each initial child protection conference on its section 47 enquiry, so
``DateOfInitialCPC`` is written there and never at the ``CINdetails`` level (rule 2884).

The file is streamed: ``lxml.etree.xmlfile`` writes the declaration, ``<Message>``, the header and
``<Children>``; each ``<Child>`` is made as escaped XML text of a fixed shape (:func:`child_xml`),
written and dropped, so memory does not grow with the number of children (building an lxml tree
per child instead took most of a 100,000-child run). The element order, cardinality and codes are
those of the CIN census 2025-26 schema (``schema/CIN_schema_2026.xsd``); the tests check every
file they write against it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import chain
from typing import IO, TypeVar

from lxml import etree

from carepath import __version__
from carepath.engine.record.case_record import (
    Assessment,
    CaseRecord,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
    icpc_target,
)
from carepath.engine.time.clock import LONDON, now
from carepath.engine.time.working_days import WorkingDayCalendar
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


def check_year_ended(year: int, today: date) -> None:
    """Refuse a census year whose collection period has not ended on ``today``: its return
    would hold a part-year as if it were the year."""
    _, end = census_year_bounds(year)
    if today <= end:
        raise ReturnError(
            f"The {year - 1}-{year % 100:02d} census year runs to 31 March {year}: there is no "
            f"return for it before 1 April {year} (today is {today.day} {today:%B %Y})"
        )


def check_la(la: str) -> None:
    if not isinstance(la, str) or not _LA_CODE.fullmatch(la):
        raise ReturnError(f"The LA code must be the council's 3-digit DfE number, like 201 "
                          f"(not {la!r})")


@dataclass(frozen=True)
class MissingItem:
    """An item the census needs that a child's record does not hold (or holds wrongly, like a
    UPN another child in the return has): the file then fails the schema or the DfE rule
    ``rule``."""

    child: str
    item: str  # the census element, e.g. "Sex" or "CINdetails[2]/ReferralSource"
    rule: str = ""  # the DfE rule the file then breaks, e.g. "4180"

    def __str__(self) -> str:
        return f"{self.child}: {self.item}" + (f" (DfE rule {self.rule})" if self.rule else "")


@dataclass(frozen=True)
class CensusNote:
    """Something the file says that the council should know about (it passes the DfE rules)."""

    child: str
    text: str

    def __str__(self) -> str:
        return f"{self.child}: {self.text}"


# The primary need code written for a referral whose need is not known yet: "not stated".
NOT_STATED = "N0"


@dataclass
class CensusSummary:
    children: int = 0
    episodes: int = 0
    missing: list[MissingItem] = field(default_factory=list)
    notes: list[CensusNote] = field(default_factory=list)


@dataclass(frozen=True)
class CensusChild:
    """A child as the census year sees them: the record cut to the year, and for each child
    protection plan in it (in order) the number of plans the child had before."""

    record: CaseRecord
    previous_cpp: tuple[int, ...]


# -- the year's view of a record --------------------------------------------------------------


def census_child(record: CaseRecord, year: int) -> CensusChild | None:
    """The part of ``record`` that goes in the census for ``year``; None when the child had no
    episode open in that year.

    ``record`` is not changed. The view shares the parts that need no cut with ``record`` (most
    children's whole record), so treat it as read-only.
    """
    start, end = census_year_bounds(year)
    episodes: list[Episode] = []
    previous: list[int] = []
    plans_before = 0
    for ep in record.episodes:
        if ep.referral_date > end or (ep.closure_date is not None and ep.closure_date < start):
            plans_before += len(ep.cp_plans)
            continue
        plans: list[CPPlan] = []
        for plan in ep.cp_plans:
            kept = _cp_plan(plan, start, end)
            if kept is not None:
                plans.append(kept)
                previous.append(plans_before)
            plans_before += 1
        assessments = _kept(ep.assessments, _assessment, start, end)
        s47s = _kept(ep.s47s, _s47, start, end)
        cin_plans = _kept(ep.cin_plans, _cin_plan, start, end)
        closed = ep.closure_date is None or ep.closure_date <= end
        if (closed and assessments is ep.assessments and s47s is ep.s47s
                and cin_plans is ep.cin_plans and _same(plans, ep.cp_plans)):
            episodes.append(ep)  # nothing to cut
            continue
        episodes.append(
            Episode(
                referral_date=ep.referral_date,
                referral_source=ep.referral_source,
                referral_nfa=ep.referral_nfa,
                primary_need=ep.primary_need,
                assessments=assessments,
                s47s=s47s,
                cp_plans=plans,
                cin_plans=cin_plans,
                closure_date=ep.closure_date if closed else None,
                closure_reason=ep.closure_reason if closed else None,
            )
        )
    if not episodes:
        return None
    child = record.child
    if child.birth_date is not None and child.birth_date > end:
        child = replace(child, birth_date=None, expected_birth_date=child.birth_date, sex="U",
                        disabilities=list(child.disabilities))
    return CensusChild(CaseRecord(child=child, episodes=episodes), tuple(previous))


_Item = TypeVar("_Item")


def _same(new: list[_Item], old: list[_Item]) -> bool:
    return len(new) == len(old) and all(a is b for a, b in zip(new, old, strict=True))


def _kept(items: list[_Item], cut: Callable[[_Item, date, date], _Item | None], start: date,
          end: date) -> list[_Item]:
    """``items`` cut to the year: the same list when every item is kept whole."""
    kept = [k for k in (cut(item, start, end) for item in items) if k is not None]
    return items if _same(kept, items) else kept


# Each returns the item itself when it is kept whole, a cut copy, or None to leave it out.


def _assessment(a: Assessment, start: date, end: date) -> Assessment | None:
    if a.start > end:
        return None
    if a.authorised is None:
        return a
    if a.authorised < start:
        return None  # completed in an earlier year
    if a.authorised > end:
        return Assessment(start=a.start)  # open at the reference date: no factors yet
    return a


def _s47(s: Section47, start: date, end: date) -> Section47 | None:
    if s.start > end:
        return None
    if s.icpc_date is not None:
        if s.icpc_date < start:
            return None  # its conference was in an earlier year
        if s.icpc_date > end:
            return Section47(start=s.start)  # open at the reference date
        return s
    if s.icpc_not_required and s.start < start:
        return None  # no date says when it ended: it belongs to the year it started in
    return s


def _cp_plan(p: CPPlan, start: date, end: date) -> CPPlan | None:
    if p.start > end or (p.end is not None and p.end < start):
        return None
    if (p.end is None or p.end <= end) and (not p.reviews or p.reviews[-1] <= end):
        return p
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
    if c.end is not None and c.end > end:
        return CINPlan(start=c.start)
    return c


# -- XML --------------------------------------------------------------------------------------

# A new line and the indentation of an element at each depth (Message 0, Children 1, Child 2...).
_PAD = ["\n" + "  " * depth for depth in range(8)]
_P2, _P3, _P4, _P5, _P6 = _PAD[2:7]
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: str) -> str:
    """``value`` escaped as XML text; a character XML cannot hold is refused."""
    if _NOT_IN_XML.search(value):
        raise ReturnError(f"{value!r} holds a character that cannot be written in XML: "
                          "correct the record")
    if "&" in value or "<" in value or ">" in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _sub(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def header_element(year: int, la: str, software: str, serial_no: int = 1) -> etree._Element:
    _, end = census_year_bounds(year)
    header = etree.Element("Header")
    details = etree.SubElement(header, "CollectionDetails")
    _sub(details, "Collection", "CIN")
    _sub(details, "Year", str(year))
    _sub(details, "ReferenceDate", end.isoformat())
    source = etree.SubElement(header, "Source")
    _sub(source, "SourceLevel", "L")
    _sub(source, "LEA", la)
    _sub(source, "SoftwareCode", software)
    _sub(source, "Release", __version__)
    _sub(source, "SerialNo", f"{serial_no:03d}")
    moment = now().astimezone(LONDON).replace(tzinfo=None, microsecond=0)
    _sub(source, "DateTime", moment.isoformat())
    return header


def child_xml(
    child: CensusChild,
    icpc_target_of: Callable[[Section47], date],
    missing: list[MissingItem] | None = None,
    notes: list[CensusNote] | None = None,
) -> str:
    """The ``<Child>`` element of one child as indented XML text. Items the census needs but
    the record lacks are left out (the file then fails the schema or a DfE rule) and listed in
    ``missing``; what the council should know about what was written goes to ``notes`` (see the
    module's docstring: referrals awaiting a decision, UN7 left out).

    Written out as text with fixed indentation (the structure is fixed), which is several times
    faster than growing an lxml tree element by element; :func:`child_element` parses it.
    """
    record = child.record
    c = record.child
    lacking = missing if missing is not None else []
    noting = notes if notes is not None else []
    parts: list[str] = []
    add = parts.append

    def lack(item: str, rule: str = "") -> None:
        lacking.append(MissingItem(c.la_child_id, item, rule))

    add(f"{_P2}<Child>{_P3}<ChildIdentifiers>{_P4}<LAchildID>{_text(c.la_child_id)}</LAchildID>")
    if c.upn is not None:
        add(f"{_P4}<UPN>{_text(c.upn)}</UPN>")
    if c.upn_unknown == "UN7" and not all(ep.referral_nfa for ep in record.episodes):
        noting.append(CensusNote(
            c.la_child_id, "UPNunknown UN7 (referral with no further action) left out: an "
            "episode in the return is not a referral with no further action (DfE rule 8772). "
            "Record the child's UPN or the reason it is unknown"))
    elif c.upn_unknown is not None:
        add(f"{_P4}<UPNunknown>{_text(c.upn_unknown)}</UPNunknown>")
    if c.birth_date is not None:
        add(f"{_P4}<PersonBirthDate>{c.birth_date.isoformat()}</PersonBirthDate>")
    if c.expected_birth_date is not None:
        add(f"{_P4}<ExpectedPersonBirthDate>{c.expected_birth_date.isoformat()}"
            "</ExpectedPersonBirthDate>")
    if c.sex:
        add(f"{_P4}<Sex>{_text(c.sex)}</Sex>")
    else:
        lack("Sex", "4180")
    add(f"{_P3}</ChildIdentifiers>{_P3}<ChildCharacteristics>")
    if c.ethnicity:
        add(f"{_P4}<Ethnicity>{_text(c.ethnicity)}</Ethnicity>")
    else:
        lack("Ethnicity", "4220")
    if c.disabilities:
        add(f"{_P4}<Disabilities>")
        for code in c.disabilities:
            add(f"{_P5}<Disability>{_text(code)}</Disability>")
        add(f"{_P4}</Disabilities>")
    add(f"{_P3}</ChildCharacteristics>")

    plans = iter(child.previous_cpp)
    for number, ep in enumerate(record.episodes, start=1):
        add(f"{_P3}<CINdetails>{_P4}<CINreferralDate>{ep.referral_date.isoformat()}"
            "</CINreferralDate>")
        if ep.referral_source:
            add(f"{_P4}<ReferralSource>{_text(ep.referral_source)}</ReferralSource>")
        else:
            lack(f"CINdetails[{number}]/ReferralSource", "8866")
        if ep.primary_need:
            add(f"{_P4}<PrimaryNeedCode>{_text(ep.primary_need)}</PrimaryNeedCode>")
        elif ep.referral_nfa:
            pass  # a referral with no further action has no primary need
        elif ep.closure_date is None:
            add(f"{_P4}<PrimaryNeedCode>{NOT_STATED}</PrimaryNeedCode>")
            pending = not (ep.assessments or ep.s47s or ep.cp_plans or ep.cin_plans)
            noting.append(CensusNote(
                c.la_child_id,
                f"CINdetails[{number}]: the referral of {ep.referral_date.isoformat()} "
                + ("had no decision by the reference date" if pending else
                   "has no primary need recorded yet")
                + f": written as open, ReferralNFA 0, PrimaryNeedCode {NOT_STATED} (not "
                "stated). Record the decision and write the census again to include it"))
        else:
            lack(f"CINdetails[{number}]/PrimaryNeedCode", "8610")
        if ep.closure_date is not None:
            add(f"{_P4}<CINclosureDate>{ep.closure_date.isoformat()}</CINclosureDate>")
        if ep.closure_reason:
            add(f"{_P4}<ReasonForClosure>{_text(ep.closure_reason)}</ReasonForClosure>")
        for a in ep.assessments:
            add(f"{_P4}<Assessments>{_P5}<AssessmentActualStartDate>{a.start.isoformat()}"
                "</AssessmentActualStartDate>")
            if a.authorised is not None:
                add(f"{_P5}<AssessmentAuthorisationDate>{a.authorised.isoformat()}"
                    "</AssessmentAuthorisationDate>")
            if a.factors:
                add(f"{_P5}<FactorsIdentifiedAtAssessment>")
                for code in a.factors:
                    add(f"{_P6}<AssessmentFactors>{_text(code)}</AssessmentFactors>")
                add(f"{_P5}</FactorsIdentifiedAtAssessment>")
            add(f"{_P4}</Assessments>")
        for cin in ep.cin_plans:
            add(f"{_P4}<CINPlanDates>{_P5}<CINPlanStartDate>{cin.start.isoformat()}"
                "</CINPlanStartDate>")
            if cin.end is not None:
                add(f"{_P5}<CINPlanEndDate>{cin.end.isoformat()}</CINPlanEndDate>")
            add(f"{_P4}</CINPlanDates>")
        for s in ep.s47s:
            add(f"{_P4}<Section47>{_P5}<S47ActualStartDate>{s.start.isoformat()}"
                f"</S47ActualStartDate>{_P5}<InitialCPCtarget>"
                f"{icpc_target_of(s).isoformat()}</InitialCPCtarget>")
            if s.icpc_date is not None:
                add(f"{_P5}<DateOfInitialCPC>{s.icpc_date.isoformat()}</DateOfInitialCPC>")
            add(f"{_P5}<ICPCnotRequired>{_flag(s.icpc_not_required)}</ICPCnotRequired>"
                f"{_P4}</Section47>")
        add(f"{_P4}<ReferralNFA>{_flag(ep.referral_nfa)}</ReferralNFA>")
        for p in ep.cp_plans:
            add(f"{_P4}<ChildProtectionPlans>{_P5}<CPPstartDate>{p.start.isoformat()}"
                "</CPPstartDate>")
            if p.end is not None:
                add(f"{_P5}<CPPendDate>{p.end.isoformat()}</CPPendDate>")
            for tag, category in (("InitialCategoryOfAbuse", p.initial_category),
                                  ("LatestCategoryOfAbuse", p.latest_category)):
                if category:
                    add(f"{_P5}<{tag}>{_text(category)}</{tag}>")
                else:
                    lack(f"CINdetails[{number}]/ChildProtectionPlans/{tag}",
                         "8905" if tag.startswith("Initial") else "8910")
            add(f"{_P5}<NumberOfPreviousCPP>{next(plans)}</NumberOfPreviousCPP>")
            if p.reviews:
                add(f"{_P5}<Reviews>")
                for r in p.reviews:
                    add(f"{_P6}<CPPreviewDate>{r.isoformat()}</CPPreviewDate>")
                add(f"{_P5}</Reviews>")
            add(f"{_P4}</ChildProtectionPlans>")
        add(f"{_P3}</CINdetails>")
    add(f"{_P2}</Child>")
    return "".join(parts)


def child_element(
    child: CensusChild,
    calendar: WorkingDayCalendar | None = None,
    missing: list[MissingItem] | None = None,
    notes: list[CensusNote] | None = None,
) -> etree._Element:
    """The ``<Child>`` element of one child (see :func:`child_xml`)."""
    cal = calendar if calendar is not None else WorkingDayCalendar()
    return _parse_child(child_xml(child, lambda s: icpc_target(s, cal), missing, notes),
                        child.record.child.la_child_id)


def _parse_child(text: str, la_child_id: str) -> etree._Element:
    try:
        return etree.fromstring(text.lstrip())
    except etree.XMLSyntaxError as exc:
        raise ReturnError(f"The record of child {la_child_id} holds text that cannot be written "
                          f"in XML ({exc})") from None


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
    targets: dict[date, date] = {}  # strategy discussion -> ICPC target: dates repeat a lot

    def target_of(s47: Section47) -> date:
        target = targets.get(s47.start)
        if target is None:
            target = targets[s47.start] = icpc_target(s47, cal)
        return target

    upns: dict[str, str] = {}  # UPN -> the first child in the return with it (rule 1520)

    def children() -> Iterator[str]:
        for item in cases:
            record = item.record if isinstance(item, CaseData) else item
            view = census_child(record, year)
            if view is None:
                continue
            summary.children += 1
            summary.episodes += len(view.record.episodes)
            child = view.record.child
            if child.upn is not None:
                holder = upns.setdefault(child.upn, child.la_child_id)
                if holder != child.la_child_id:
                    summary.missing.append(MissingItem(
                        child.la_child_id, f"UPN, the same as child {holder}'s", "1520"))
            yield child_xml(view, target_of, summary.missing, summary.notes)

    texts = children()
    first = next(texts, None)
    if first is None:
        start, end = census_year_bounds(year)
        raise ReturnError(
            f"No child had an episode open between {start.isoformat()} and {end.isoformat()}: "
            "there is nothing to return for that year"
        )
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("Message"):
            xf.write(_PAD[1])
            header = header_element(year, la, software, serial_no)
            etree.indent(header, space="  ", level=1)
            xf.write(header)
            xf.write(_PAD[1])
            with xf.element("Children"):
                # The children go straight to ``out``, between <Children> and </Children>:
                # their text is escaped XML of a fixed shape (see child_xml), and passing it
                # through lxml element by element would take most of the run's time.
                xf.flush()
                for text in chain([first], texts):
                    out.write(text.encode("utf-8"))
                xf.write(_PAD[1])
            xf.write("\n")
    out.write(b"\n")
    return summary
