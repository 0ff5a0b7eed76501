"""Ofsted's ILACS Annex A child-level lists 3 to 7, as an Excel workbook, from the case record
(lists 8 to 10, looked-after children, care leavers and adoption: :mod:`.annex_a_care`, written
here when :func:`write_annex_a` is given them).

One sheet per list, one row per event, for the period asked (by default the six months up to
today):

* **List 3** (referrals): each referral made in the period;
* **List 4** (assessments): each assessment open at some time in the period;
* **List 5** (section 47 enquiries): each enquiry that started in the period, held its initial
  child protection conference (ICPC) in it, or was still open at its end;
* **List 6** (children in need): each episode open at some time in the period, except referrals
  with no further action;
* **List 7** (child protection): each child protection plan open at some time in the period.

Columns and values are those of the Annex A schema used by Social Finance's liia-tools to read
councils' returns (2026 version, where ``Sex`` replaces ``Gender``). Dates are Excel dates shown
``dd/mm/yyyy``; items dated after the period's end are left out, as they had not happened yet.
Values:

* Sex ``a) Male`` / ``b) Female`` / ``c) Not stated/recorded``; ethnicity and source of referral
  as the Ofsted template's lettered CIN codes (``a) WBRI``, ``e) 2A: Schools``), which liia-tools
  maps onto its groups; primary need, reason for closure, case status and category of abuse as
  the schema's lettered categories (``a) Abuse or neglect``, ``h) Child not in need after
  assessment``, ``b) Child Protection plan``, ``a) Neglect``);
* yes/no columns ``Yes`` / ``No`` (``Unknown`` where the schema allows it): the schema's codes
  (its YAML writes them unquoted, so a YAML 1.1 reader shows them as ``True``/``False``);
* "Does the Child have a Disability": ``Yes`` for any code but ``NONE``, ``No`` for ``NONE``,
  ``Unknown`` when no code is recorded;
* "Age of Child (Years)": whole years at the end of the period (blank without a date of birth);
* "Number of … in the last 12 months": the child's referrals (List 3), enquiries and ICPCs (List
  5) in the twelve months before the row's own date, not counting the row itself;
* "Was the child assessed as requiring LA children's social care support?": ``Yes`` when a child
  in need or child protection plan was open on the day the assessment was authorised or started
  after it; ``No`` when the episode was then closed after assessment (RC8, RC9) with no plan;
  blank otherwise, and while the assessment is open;
* "Did the Initial Child Protection Conference Result in a Child Protection Plan": ``Yes`` when
  a plan of the episode starts on the conference date, else ``No``; blank before a conference;
* "Case Status" on the last day of the period (or the closure date): ``e) Closed episode``, else
  ``b) Child Protection plan`` / ``c) Child in need plan`` / ``d) Open assessment`` for the first
  of these open then. An open episode with none of them open that day is still an open case, and
  the schema needs a status: ``c) Child in need plan`` once the episode has had a plan (a plan
  ended and the next step, a new plan or the closure, is not recorded yet: the child is still a
  child in need), else ``d) Open assessment`` (the referral awaits its decision, or an enquiry is
  under way, or an assessment is done and what follows has not started);
* "Primary Need Code" of an episode still open at the end of the period whose need is not
  recorded yet: ``j) Not stated`` (code N0, as in the CIN census);
* "Subject to Emergency Protection Order or Protected Under Police Powers in Last Six Months
  (Y/N)": ``Yes`` when the record holds an emergency protection order or police protection
  (record item ``episode.emergency_protection``, in any episode) in the six months up to the
  period's end, else ``No``. Both built-in packs ask for it at every strategy discussion.

Columns left blank because the case record does not hold the item (the schema allows a blank):

* List 4: "Child Seen During Continuous Assessment";
* List 6: "Date Child Was Last Seen"; "Case Status" ``a) Looked after child`` is never given;
* List 7: "Date of the Last Statutory Visit", "Was the Child Seen Alone?".

The allocated team and worker come from the case (its current allocation, on every row);
``Unallocated`` when the case has none (the schema allows no blank).

A column the schema needs that a record cannot fill (a child without sex or ethnicity, a plan
without its categories of abuse, a closed episode without its primary need) is left blank and
listed in the summary's ``missing``, never guessed.

Written with openpyxl in write-only mode: each row goes to its sheet as the case is read, so the
cases are streamed once and never held together.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from os import PathLike
from typing import IO, TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from carepath.core.ages import age_on
from carepath.engine.record.case_record import Child, Episode
from carepath.engine.time.clock import today
from carepath.returns import CaseData, ReturnError
from carepath.returns.cin_census import NOT_STATED

if TYPE_CHECKING:
    from carepath.returns.annex_a_care import CareLists

DATE_FORMAT = "dd/mm/yyyy"
YES, NO, UNKNOWN = "Yes", "No", "Unknown"
UNALLOCATED = "Unallocated"
EPO_MONTHS = 6  # "… in Last Six Months"

SEX = {"M": "a) Male", "F": "b) Female", "U": "c) Not stated/recorded"}
ETHNICITY = {
    code: f"{letter}) {code}"
    for letter, code in zip(
        "abcdefghijklmnopqrst",
        ["WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN",
         "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT"],
        strict=True,
    )
}
REFERRAL_SOURCE = {
    "1A": "a) 1A: Individual", "1B": "b) 1B: Individual", "1C": "c) 1C: Individual",
    "1D": "d) 1D: Individual", "2A": "e) 2A: Schools", "2B": "f) 2B: Education services",
    "3A": "g) 3A: Health services", "3B": "h) 3B: Health services",
    "3C": "i) 3C: Health services", "3D": "j) 3D: Health services",
    "3E": "k) 3E: Health services", "3F": "l) 3F: Health services", "4": "m) 4: Housing",
    "5A": "n) 5A: LA services", "5B": "o) 5B: LA services", "5C": "p) 5C: LA services",
    "5D": "p1) 5D: LA services", "6": "q) 6: Police", "7": "r) 7: Other legal agency",
    "8": "s) 8: Other", "9": "t) 9: Anonymous", "10": "u) 10: Unknown",
}
PRIMARY_NEED = {
    "N1": "a) Abuse or neglect", "N2": "b) Child's disability",
    "N3": "c) Parents illness or disability", "N4": "d) Family in acute stress",
    "N5": "e) Family dysfunction", "N6": "f) Socially unacceptable behaviour",
    "N7": "g) Low income", "N8": "h) Absent parenting", "N9": "i) Not CIN", "N0": "j) Not stated",
}
CLOSURE_REASON = {
    "RC1": "a) Adopted", "RC2": "b) Died", "RC3": "c) Residence Order",
    "RC4": "d) Special Guardianship Order", "RC5": "e) Transfer to another LA",
    "RC6": "f) Transfer to Adult Social Services",
    "RC7": "g) 'Other' incl. Child no longer in need",
    "RC8": "h) Child not in need after assessment", "RC9": "h) Child not in need after assessment",
}
ABUSE_CATEGORY = {"NEG": "a) Neglect", "PHY": "b) Physical Abuse", "SAB": "c) Sexual Abuse",
                  "EMO": "d) Emotional Abuse", "MUL": "e) Multiple"}
STATUS_CP, STATUS_CIN, STATUS_ASSESSMENT, STATUS_CLOSED = (
    "b) Child Protection plan", "c) Child in need plan", "d) Open assessment", "e) Closed episode")

_CHILD = ["Child Unique ID", "Sex", "Ethnicity", "Date of Birth", "Age of Child (Years)"]
_DISABILITY = "Does the Child have a Disability"
_ALLOCATED = ["Allocated Team", "Allocated Worker"]

LIST_COLUMNS: dict[str, list[str]] = {
    "List 3": [*_CHILD, "Date of referral", "Referral Source", "Referral NFA?",
               "Number of Referrals in Last 12 Months", *_ALLOCATED],
    "List 4": [*_CHILD, _DISABILITY, "Continuous Assessment Start Date",
               "Child Seen During Continuous Assessment",
               "Continuous Assessment Date of Authorisation",
               "Was the child assessed as requiring LA children's social care support?",
               *_ALLOCATED],
    "List 5": [*_CHILD, _DISABILITY,
               "Strategy discussion initiating Section 47 Enquiry Start Date",
               "Was an Initial Child Protection Conference deemed unnecessary?",
               "Date of Initial Child Protection Conference",
               "Did the Initial Child Protection Conference Result in a Child Protection Plan",
               "Number of Section 47 Enquiries in the last 12 months",
               "Number of ICPCs in the last 12 months", *_ALLOCATED],
    "List 6": [*_CHILD, _DISABILITY, "CIN Start Date", "Primary Need Code",
               "Date Child Was Last Seen", "CIN Closure Date", "Reason for Closure",
               "Case Status", *_ALLOCATED],
    "List 7": [*_CHILD, _DISABILITY, "Child Protection Plan Start Date",
               "Initial Category of Abuse", "Latest Category of Abuse",
               "Date of the Last Statutory Visit", "Was the Child Seen Alone?",
               "Date of latest review conference", "Child Protection Plan End Date",
               "Subject to Emergency Protection Order or Protected Under Police Powers in Last "
               "Six Months (Y/N)",
               "Number of Previous Child Protection Plans", *_ALLOCATED],
}
LIST_TITLES = {"List 3": "referrals", "List 4": "assessments", "List 5": "section 47 enquiries",
               "List 6": "children in need", "List 7": "child protection plans",
               "List 8": "children looked after", "List 9": "care leavers",
               "List 10": "adoption"}  # lists 8 to 10: annex_a_care, when given


# Columns the Annex A schema does not allow to be blank, in Lists 3 to 7
REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(columns) - {"Date of Birth", "Age of Child (Years)"} - {
        "Date of referral", "Child Seen During Continuous Assessment",
        "Continuous Assessment Date of Authorisation",
        "Was the child assessed as requiring LA children's social care support?",
        "Was an Initial Child Protection Conference deemed unnecessary?",
        "Date of Initial Child Protection Conference",
        "Did the Initial Child Protection Conference Result in a Child Protection Plan",
        "CIN Start Date", "Date Child Was Last Seen", "CIN Closure Date", "Reason for Closure",
        "Date of the Last Statutory Visit", "Was the Child Seen Alone?",
        "Date of latest review conference", "Child Protection Plan End Date"}
    for name, columns in LIST_COLUMNS.items()
}


@dataclass(frozen=True)
class MissingCell:
    """A column the schema needs that a child's record cannot fill (left blank)."""

    sheet: str
    child: str
    column: str

    def __str__(self) -> str:
        return f"{self.sheet}, {self.child}: {self.column}"


@dataclass
class AnnexASummary:
    start: date
    end: date
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIST_COLUMNS, 0))
    missing: list[MissingCell] = field(default_factory=list)


def months_before(day: date, months: int) -> date:
    """The same day of the month ``months`` earlier (the month's last day if it is shorter)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def default_period(on: date | None = None) -> tuple[date, date]:
    """The six months up to ``on`` (default today)."""
    end = on if on is not None else today()
    return months_before(end, 6), end


def age_in_years(birth: date | None, on: date) -> int | None:
    if birth is None or birth > on:
        return None
    return age_on(birth, on)


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else (YES if value else NO)


def disability(child: Child) -> str:
    if not child.disabilities:
        return UNKNOWN
    return NO if child.disabilities == ["NONE"] else YES


def _upto(value: date | None, end: date) -> date | None:
    """A date that had happened by ``end`` (else None: not yet)."""
    return value if value is not None and value <= end else None


def _within_year_before(when: date, dates: Iterable[date]) -> int:
    earliest = months_before(when, 12)
    return sum(1 for d in dates if earliest <= d < when)


class _Sheets:
    def __init__(self, workbook: Workbook, lists: dict[str, list[str]],
                 required: dict[str, frozenset[str]]) -> None:
        self.sheets: dict[str, WriteOnlyWorksheet] = {}
        self.columns = lists
        self.required = required
        bold = Font(bold=True)
        for name, columns in lists.items():
            ws = workbook.create_sheet(name)
            for index, title in enumerate(columns):
                letter = _column_letter(index)
                ws.column_dimensions[letter].width = max(12, min(40, len(title) + 2))
            ws.freeze_panes = "A2"
            header = []
            for title in columns:
                cell = WriteOnlyCell(ws, value=title)
                cell.font = bold
                header.append(cell)
            ws.append(header)
            self.sheets[name] = ws

    def append(self, name: str, values: Sequence[Any],
               missing: list[MissingCell] | None = None) -> None:
        ws = self.sheets[name]
        columns = self.columns[name]
        if len(values) != len(columns):  # pragma: no cover - a bug here
            raise AssertionError(f"{name}: {len(values)} values for {len(columns)}")
        if missing is not None:
            required = self.required[name]
            missing.extend(MissingCell(name, str(values[0]), column)
                           for column, value in zip(columns, values, strict=True)
                           if value is None and column in required)
        row: list[Any] = []
        for value in values:
            if isinstance(value, date):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = DATE_FORMAT
                row.append(cell)
            else:
                row.append(value)
        ws.append(row)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def write_annex_a(
    cases: Iterable[CaseData],
    out_path: str | PathLike[str] | IO[bytes],
    start: date | None = None,
    end: date | None = None,
    care: CareLists | None = None,
) -> AnnexASummary:
    """Write Annex A lists 3 to 7 for the period ``start`` to ``end`` (both included; default the
    six months up to today) to the workbook ``out_path`` (a path or a binary file); with
    ``care``, lists 8 to 10 too, from its looked-after children
    (:mod:`carepath.returns.annex_a_care`), streamed after the cases."""
    if start is None or end is None:
        default_start, default_end = default_period(end)
        start = start if start is not None else default_start
        end = end if end is not None else default_end
    if start > end:
        raise ReturnError(f"The period must start before it ends ({start.isoformat()} is after "
                          f"{end.isoformat()})")
    from carepath.returns.annex_a_care import CARE_LIST_COLUMNS, CARE_REQUIRED, care_list_rows

    summary = AnnexASummary(start, end)
    lists, required = dict(LIST_COLUMNS), dict(REQUIRED)
    if care is not None:
        lists.update(CARE_LIST_COLUMNS)
        required.update(CARE_REQUIRED)
        summary.rows.update(dict.fromkeys(CARE_LIST_COLUMNS, 0))
    workbook = Workbook(write_only=True)
    sheets = _Sheets(workbook, lists, required)
    for case in cases:
        for name, row in _rows(case, start, end):
            sheets.append(name, row, summary.missing)
            summary.rows[name] += 1
    if care is not None:
        for name, row in care_list_rows(care.children, start, end, care.council, care.locate):
            sheets.append(name, row, summary.missing)
            summary.rows[name] += 1
    workbook.save(out_path)
    return summary


def _rows(case: CaseData, start: date, end: date) -> Iterable[tuple[str, list[Any]]]:
    record = case.record
    child = record.child
    person = [
        case.la_child_id or child.la_child_id,
        SEX.get(child.sex or ""),
        ETHNICITY.get(child.ethnicity or "", child.ethnicity),
        child.birth_date,
        age_in_years(child.birth_date, end),
    ]
    disabled = disability(child)
    allocated = [case.team or UNALLOCATED, case.worker or UNALLOCATED]
    since = months_before(end, EPO_MONTHS)
    protected = _yes_no(any(since <= day <= end for ep in record.episodes
                            for day in ep.emergency_protection))

    referrals = [ep.referral_date for ep in record.episodes]
    strategy_dates = [s.start for ep in record.episodes for s in ep.s47s]
    icpc_dates = [s.icpc_date for ep in record.episodes for s in ep.s47s
                  if s.icpc_date is not None]
    plans_before = 0

    for ep in record.episodes:
        if start <= ep.referral_date <= end:
            yield "List 3", [
                *person, ep.referral_date,
                REFERRAL_SOURCE.get(ep.referral_source or "", ep.referral_source),
                _yes_no(ep.referral_nfa),
                _within_year_before(ep.referral_date, referrals), *allocated,
            ]

        for a in ep.assessments:
            if a.start <= end and (a.authorised is None or a.authorised >= start):
                authorised = _upto(a.authorised, end)
                yield "List 4", [
                    *person, disabled, a.start, None, authorised,
                    _yes_no(_needs_support(ep, authorised) if authorised else None), *allocated,
                ]

        for s in ep.s47s:
            icpc = _upto(s.icpc_date, end)
            open_at_end = icpc is None and not s.icpc_not_required
            if s.start <= end and (s.start >= start or (icpc is not None and icpc >= start)
                                   or open_at_end):
                unnecessary = True if s.icpc_not_required else (False if icpc else None)
                led_to_plan = (any(p.start == icpc for p in ep.cp_plans)
                               if icpc is not None else None)
                yield "List 5", [
                    *person, disabled, s.start, _yes_no(unnecessary), icpc,
                    _yes_no(led_to_plan),
                    _within_year_before(s.start, strategy_dates),
                    _within_year_before(s.start, icpc_dates), *allocated,
                ]

        open_in_period = ep.referral_date <= end and (
            ep.closure_date is None or ep.closure_date >= start)
        if open_in_period and not ep.referral_nfa:
            closure = _upto(ep.closure_date, end)
            # an episode open at the end whose need is not recorded yet: "not stated" (N0)
            need = ep.primary_need or (NOT_STATED if closure is None else None)
            yield "List 6", [
                *person, disabled, ep.referral_date,
                PRIMARY_NEED.get(need or "", need), None, closure,
                CLOSURE_REASON.get(ep.closure_reason or "", ep.closure_reason) if closure else None,
                _case_status(ep, closure or end, closed=closure is not None), *allocated,
            ]

        for p in ep.cp_plans:
            if p.start <= end and (p.end is None or p.end >= start):
                reviews = [r for r in p.reviews if r <= end]
                yield "List 7", [
                    *person, disabled, p.start,
                    ABUSE_CATEGORY.get(p.initial_category or "", p.initial_category),
                    ABUSE_CATEGORY.get(p.latest_category or "", p.latest_category),
                    None, None, reviews[-1] if reviews else None, _upto(p.end, end), protected,
                    plans_before, *allocated,
                ]
            plans_before += 1


def _needs_support(ep: Episode, authorised: date) -> bool | None:
    plans = [p.end for p in ep.cp_plans] + [c.end for c in ep.cin_plans]
    if any(finish is None or finish >= authorised for finish in plans):
        return True  # a plan open on the day of authorisation, or started after it
    if ep.closure_reason in ("RC8", "RC9") and ep.closure_date is not None \
            and ep.closure_date >= authorised:
        return False
    return None


def _case_status(ep: Episode, on: date, closed: bool) -> str:
    if closed:
        return STATUS_CLOSED

    def open_on(begin: date, finish: date | None) -> bool:
        return begin <= on and (finish is None or finish > on)

    if any(open_on(p.start, p.end) for p in ep.cp_plans):
        return STATUS_CP
    if any(open_on(c.start, c.end) for c in ep.cin_plans):
        return STATUS_CIN
    if any(open_on(a.start, a.authorised) for a in ep.assessments):
        return STATUS_ASSESSMENT
    # open, with no plan or assessment open that day (see the module docstring)
    if any(p.start <= on for p in ep.cp_plans) or any(c.start <= on for c in ep.cin_plans):
        return STATUS_CIN
    return STATUS_ASSESSMENT

