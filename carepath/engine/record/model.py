"""The shape of the canonical case record: one child, one or more episodes of need.

The engine owns this shape; packs only fill it through form mappings (``record:`` items,
:mod:`carepath.engine.record.changes`) and the statutory returns read only it. Besides the
dataclasses, this holds what is worked out from them (``icpc_target``, ``previous_plans``) and the
date parsing every reader of the record shares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, overload

from carepath.core.codes import STATUTORY_CODELISTS
from carepath.core.errors import RecordError
from carepath.engine.record.looked_after import LookedAfter, clone_looked_after

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


class StoredReviews:
    """The review dates of one child protection plan as they are stored: how many, the last one,
    and a way to read them all when (if ever) someone needs them.

    Immutable once made (the dates, once read, never change), so any number of
    :class:`ReviewDates` (copies of one record, records in a cache shared between threads) can
    share one. ``load`` is called at most once (under a lock) and must return exactly ``count``
    dates ending with ``last``, or :class:`RecordError` is raised.
    """

    __slots__ = ("plan_id", "count", "last", "_load", "_items", "_lock")

    def __init__(self, plan_id: int | None, count: int, last: date | None,
                 load: Callable[[], Iterable[date]] | None = None,
                 items: Iterable[date] | None = None) -> None:
        self.plan_id = plan_id  # the storage's key for the plan (cp_plans.id), if it has one
        self.count = count
        self.last = last
        self._load = load
        self._items: tuple[date, ...] | None = None if items is None else tuple(items)
        self._lock = threading.Lock()
        if self._items is None and load is None:
            raise ValueError("stored reviews need their dates or a way to load them")
        if self._items is not None:
            self._check(self._items)

    @property
    def loaded(self) -> bool:
        return self._items is not None

    def items(self) -> tuple[date, ...]:
        items = self._items
        if items is not None:
            return items
        with self._lock:
            if self._items is None:
                assert self._load is not None
                loaded = tuple(self._load())
                self._check(loaded)
                self._items = loaded
                self._load = None
            return self._items

    def _check(self, items: tuple[date, ...]) -> None:
        last = items[-1] if items else None
        if len(items) != self.count or last != self.last:
            raise RecordError(
                "The stored reviews of a child protection plan do not match its record "
                f"({self.count} ending {self.last} expected, {len(items)} ending {last} read)")


class ReviewDates(MutableSequence[date]):
    """A plan's review dates: a list that reads the stored dates only when it must.

    A long child protection plan has hundreds or thousands of reviews, and a completion needs only
    how many there are, the last one, and the ones it adds. So a plan read from the database holds
    its stored reviews as a shared :class:`StoredReviews` (count, last date, loaded on first need)
    plus the dates appended since (``appended``). ``len``, ``[-1]``, ``append`` and copying never
    read the stored dates; iterating, most indexing and any other change do (once per stored
    snapshot). It compares equal to a list of the same dates, and two copies of one snapshot
    compare by their appended dates alone.
    """

    __slots__ = ("_base", "_tail")

    def __init__(self, items: Iterable[date] = (), base: StoredReviews | None = None) -> None:
        self._base = base
        self._tail: list[date] = list(items)

    # -- what does not read the stored dates --

    @property
    def stored(self) -> StoredReviews | None:
        """The stored snapshot this sequence extends (None once it was changed other than by
        appending, or for one that was never stored)."""
        return self._base

    @property
    def appended(self) -> list[date]:
        """The dates added after the stored ones (all of them when nothing is stored)."""
        return list(self._tail)

    def __len__(self) -> int:
        return (self._base.count if self._base is not None else 0) + len(self._tail)

    def known_prefix(self, other: ReviewDates) -> int:
        """How many leading dates this and ``other`` are known to share without reading stored
        ones: the stored snapshot both extend, and the dates both appended after it alike."""
        base = self._base
        if base is None or base is not other._base:
            return 0
        mine, theirs = self._tail, other._tail
        if len(mine) <= len(theirs) and theirs[:len(mine)] == mine:
            return base.count + len(mine)
        if len(theirs) < len(mine) and mine[:len(theirs)] == theirs:
            return base.count + len(theirs)
        return base.count

    def append(self, value: date) -> None:
        self._tail.append(value)

    def extend(self, values: Iterable[date]) -> None:
        self._tail.extend(values)

    def copy(self) -> ReviewDates:
        return ReviewDates(self._tail, self._base)

    def __copy__(self) -> ReviewDates:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> ReviewDates:
        return self.copy()  # dates are immutable and the stored snapshot is shared

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReviewDates, (list(self),))

    @overload
    def __getitem__(self, index: int) -> date: ...

    @overload
    def __getitem__(self, index: slice) -> list[date]: ...

    def __getitem__(self, index: int | slice) -> date | list[date]:
        if isinstance(index, slice):
            return self._all()[index]
        base = self._base
        if base is None:
            return self._tail[index]
        size = base.count + len(self._tail)
        position = index + size if index < 0 else index
        if not 0 <= position < size:
            raise IndexError("review index out of range")
        if position >= base.count:
            return self._tail[position - base.count]
        if position == base.count - 1 and base.last is not None:
            return base.last
        return base.items()[position]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReviewDates):
            if self._base is other._base:
                return self._tail == other._tail
        elif not isinstance(other, list | tuple):
            return NotImplemented
        if len(self) != len(other):
            return False
        if len(self) and self[-1] != other[-1]:
            return False
        return self._all() == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return repr(self._all())

    # -- what does --

    def _all(self) -> list[date]:
        if self._base is None:
            return self._tail
        return [*self._base.items(), *self._tail]

    def _materialise(self) -> list[date]:
        if self._base is not None:
            self._tail = [*self._base.items(), *self._tail]
            self._base = None
        return self._tail

    def __iter__(self) -> Iterator[date]:
        if self._base is not None:
            yield from self._base.items()
        yield from self._tail

    def __contains__(self, value: object) -> bool:
        return value in self._tail or (self._base is not None and value in self._base.items())

    @overload
    def __setitem__(self, index: int, value: date) -> None: ...

    @overload
    def __setitem__(self, index: slice, value: Iterable[date]) -> None: ...

    def __setitem__(self, index: int | slice, value: Any) -> None:
        self._materialise()[index] = value

    def __delitem__(self, index: int | slice) -> None:
        del self._materialise()[index]

    def insert(self, index: int, value: date) -> None:
        self._materialise().insert(index, value)


def copy_reviews(reviews: MutableSequence[date]) -> MutableSequence[date]:
    """An independent copy of a plan's reviews that does not read stored ones."""
    if isinstance(reviews, ReviewDates):
        return reviews.copy()
    return list(reviews)


def reviews_to_check(reviews: MutableSequence[date]) -> list[date]:
    """The reviews a change must check: the ones added since the plan's reviews were read from
    storage (stored ones were checked when they were added), or all of them."""
    if isinstance(reviews, ReviewDates) and reviews.stored is not None \
            and not reviews.stored.loaded:
        return reviews.appended
    return list(reviews)


@dataclass
class CPPlan:
    start: date
    initial_category: str | None = None
    latest_category: str | None = None
    reviews: MutableSequence[date] = field(default_factory=list)
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
    # the child's looked-after record (empty when never looked after): the child's, across
    # episodes
    looked_after: LookedAfter = field(default_factory=LookedAfter)


# --------------------------------------------------------------------------------------------
# Functions over the record. All pure: they read or change the objects given and nothing else.
# --------------------------------------------------------------------------------------------

ICPC_WORKING_DAYS = 15  # initial child protection conference: 15 working days after the strategy discussion


def clone_record(record: CaseRecord) -> CaseRecord:
    """An independent copy of a record, much cheaper than ``copy.deepcopy``.

    Every leaf value is immutable (dates, strings, bools), so copying the dataclasses and their
    lists is enough. This is on the hot path: a long child protection plan has hundreds of
    review dates, and deepcopy would walk each one several times per completed task; reviews read
    lazily from storage (:class:`ReviewDates`) are copied without reading them.
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
                cp_plans=[CPPlan(p.start, p.initial_category, p.latest_category,
                                 copy_reviews(p.reviews), p.end) for p in e.cp_plans],
                cin_plans=[CINPlan(p.start, p.end) for p in e.cin_plans],
                closure_date=e.closure_date,
                closure_reason=e.closure_reason,
                emergency_protection=list(e.emergency_protection),
            )
            for e in record.episodes
        ],
        looked_after=clone_looked_after(record.looked_after),
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


def child_from_json(data: Mapping[str, Any]) -> Child:
    """A child from its JSON (story) form: dates as ``date`` objects or ISO strings."""
    return Child(
        la_child_id=str(data["la_child_id"]),
        upn=data.get("upn"),
        upn_unknown=data.get("upn_unknown"),
        birth_date=optional_date(data.get("birth_date")),
        expected_birth_date=optional_date(data.get("expected_birth_date")),
        sex=data.get("sex"),
        ethnicity=data.get("ethnicity"),
        disabilities=[str(d) for d in data.get("disabilities") or []],
    )


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
