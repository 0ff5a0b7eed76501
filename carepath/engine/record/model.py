"""The shape of the canonical case record: one child, one or more episodes of need.

The engine owns this shape; packs only fill it through form mappings (``record:`` items,
:mod:`carepath.engine.record.changes`) and the statutory returns read only it. Besides the
dataclasses, this holds what is worked out from them (``icpc_target``, ``previous_plans``) and the
date parsing every reader of the record shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from carepath.core.codes import STATUTORY_CODELISTS

if TYPE_CHECKING:
    from carepath.engine.time.working_days import WorkingDayCalendar


def in_code_order(codes: list[str], codelist: str) -> list[str]:
    """Codes in the order of their statutory list: a set of codes has one canonical form."""


    order = {c.code: i for i, c in enumerate(STATUTORY_CODELISTS[codelist].codes)}
    return sorted(codes, key=lambda code: (order.get(code, len(order)), code))


@dataclass
class Child:
    la_child_id: str
    upn: str | None = None
    upn_unknown: str | None = None
    birth_date: date | None = None
    expected_birth_date: date | None = None
    sex: str | None = None
    ethnicity: str | None = None
    disabilities: list[str] = field(default_factory=list)


@dataclass
class Assessment:
    start: date
    authorised: date | None = None
    factors: list[str] = field(default_factory=list)


@dataclass
class Section47:
    start: date  # the date of the strategy discussion that began the enquiry
    icpc_date: date | None = None
    icpc_not_required: bool = False


@dataclass
class CPPlan:
    start: date
    initial_category: str | None = None
    latest_category: str | None = None
    reviews: list[date] = field(default_factory=list)
    end: date | None = None


@dataclass
class CINPlan:
    start: date
    end: date | None = None


@dataclass
class Episode:
    referral_date: date
    referral_source: str | None = None
    referral_nfa: bool = False
    primary_need: str | None = None
    assessments: list[Assessment] = field(default_factory=list)
    s47s: list[Section47] = field(default_factory=list)
    cp_plans: list[CPPlan] = field(default_factory=list)
    cin_plans: list[CINPlan] = field(default_factory=list)
    closure_date: date | None = None
    closure_reason: str | None = None
    # days the child was made subject to an emergency protection order or taken into police
    # protection (Children Act 1989 s44, s46), in date order
    emergency_protection: list[date] = field(default_factory=list)


@dataclass
class CaseRecord:
    child: Child
    episodes: list[Episode] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Functions over the record. All pure: they read or change the objects given and nothing else.
# --------------------------------------------------------------------------------------------

ICPC_WORKING_DAYS = 15  # initial child protection conference: 15 working days after the strategy discussion


def clone_record(record: CaseRecord) -> CaseRecord:
    """An independent copy of a record, much cheaper than ``copy.deepcopy``.

    Every leaf value is immutable (dates, strings, bools), so copying the dataclasses and their
    lists is enough. This is on the hot path: a long child protection plan has hundreds of
    review dates, and deepcopy would walk each one several times per completed task.
    """
    c = record.child
    return CaseRecord(
        child=Child(c.la_child_id, c.upn, c.upn_unknown, c.birth_date, c.expected_birth_date,
                    c.sex, c.ethnicity, list(c.disabilities)),
        episodes=[
            Episode(
                referral_date=e.referral_date,
                referral_source=e.referral_source,
                referral_nfa=e.referral_nfa,
                primary_need=e.primary_need,
                assessments=[Assessment(a.start, a.authorised, list(a.factors))
                             for a in e.assessments],
                s47s=[Section47(s.start, s.icpc_date, s.icpc_not_required) for s in e.s47s],
                cp_plans=[CPPlan(p.start, p.initial_category, p.latest_category, list(p.reviews),
                                 p.end) for p in e.cp_plans],
                cin_plans=[CINPlan(p.start, p.end) for p in e.cin_plans],
                closure_date=e.closure_date,
                closure_reason=e.closure_reason,
                emergency_protection=list(e.emergency_protection),
            )
            for e in record.episodes
        ],
    )


def default_calendar() -> WorkingDayCalendar:
    from carepath.engine.time.working_days import WorkingDayCalendar

    return WorkingDayCalendar()


def iso_date(d: date) -> str:
    return d.isoformat()


def as_date(value: Any) -> date:
    """A date from a date object or an ISO ``YYYY-MM-DD`` string (a datetime is refused)."""
    if isinstance(value, datetime):
        raise ValueError(f"{value!r} is a date and time, not a date")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError(f"{value!r} is not a date")


def optional_date(value: Any) -> date | None:
    return None if value is None else as_date(value)


def previous_plans(record: CaseRecord, plan: CPPlan) -> int:
    """How many child protection plans the child had before ``plan`` (across all episodes)."""
    count = 0
    for episode in record.episodes:
        for other in episode.cp_plans:
            if other is plan:
                return count
            count += 1
    raise ValueError("the plan is not part of this record")


def icpc_target(s47: Section47, calendar: WorkingDayCalendar | None = None) -> date:
    """The date the initial child protection conference is due: 15 working days after the
    strategy discussion that started the enquiry."""
    cal = calendar if calendar is not None else default_calendar()
    target: date = cal.add_working_days(s47.start, ICPC_WORKING_DAYS)
    return target
