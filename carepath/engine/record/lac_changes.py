"""Changing the looked-after record through record items (``care.start``, ``placement.type``…).

The looked-after record is the child's, not an episode's (a child stays in care across
episodes). Its items follow the record's convention: an *opening* item (``care.start``,
``legal_status.start``, ``placement.start``, ``social_worker.start``, ``lac_review.date``,
``missing.start``, ``adoption.decision``, ``outcomes.year``, ``care_leaver.contact``) opens a new
entry; the other items of its namespace update the latest entry. Besides:

* a new legal status, placement or social worker ends the open one on the day it starts (the
  903's contiguous timelines), and ``care.end`` ends the open legal status and placement;
* ``placement.reason_changed`` is the reason the child moved on from the latest placement that
  has *ended*: given with ``placement.start``, the one that start ends;
* ``outcomes.year`` of the year of the latest outcomes goes back to them (no new entry);
* ``uasc.*``, ``mother.*`` and ``previous_permanence.*`` are single items of the child.

:func:`apply_looked_after` checks each value against the record (and, at the end, the whole
record with :func:`~carepath.engine.record.looked_after.check_looked_after`) and records every
change it makes, the implicit ones included, so that :func:`set_item` alone, which the event
replay uses, rebuilds the same record from the changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from carepath.core.errors import RecordError
from carepath.core.record_items import LOOKED_AFTER_ITEMS, RECORD_ITEMS
from carepath.engine.record.looked_after import (
    Adoption,
    CareLeaverContact,
    HealthOutcomes,
    LACReview,
    LegalStatus,
    LookedAfter,
    MissingEpisode,
    PeriodOfCare,
    Placement,
    PreviousPermanence,
    SocialWorkerPeriod,
    check_looked_after,
)

Changed = Callable[[str, Any, Any], None]

# namespace -> (the list of LookedAfter it fills, its opening item's name, a new entry)
_LISTS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "care": ("periods", "start", lambda v: PeriodOfCare(start=v)),
    "legal_status": ("legal_statuses", "start", lambda v: LegalStatus(code="", start=v)),
    "placement": ("placements", "start", lambda v: Placement(type="", start=v)),
    "social_worker": ("social_workers", "start", lambda v: SocialWorkerPeriod(worker="",
                                                                              start=v)),
    "lac_review": ("reviews", "date", lambda v: LACReview(held=v)),
    "missing": ("missing", "start", lambda v: MissingEpisode(kind="", start=v)),
    "adoption": ("adoptions", "decision", lambda v: Adoption(decision=v)),
    "outcomes": ("outcomes", "year", lambda v: HealthOutcomes(year=v)),
    "care_leaver": ("care_leaver_contacts", "contact",
                    lambda v: CareLeaverContact(contacted=v, in_touch="")),
}
_ATTRS = {"social_worker.id": "worker", "lac_review.date": "held",
          "care_leaver.contact": "contacted"}
_SINGLE = {"uasc.status": "uasc", "uasc.ceased": "uasc_ceased", "mother.status": "mother",
           "mother.first_child_born": "first_child_born"}
# what an opening item needs in the same form (the entry has no meaning without it)
_NEEDS = {"legal_status.start": "legal_status.code", "placement.start": "placement.type",
          "social_worker.start": "social_worker.id", "missing.start": "missing.kind",
          "care_leaver.contact": "care_leaver.in_touch"}
OPENING_ITEMS = frozenset(f"{ns}.{name}" for ns, (_, name, _) in _LISTS.items())
ITEM_ORDER = {item.path: i for i, item in enumerate(LOOKED_AFTER_ITEMS)}
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")

# A part of the looked-after record, as the replay names what an event wrote: ("lac",) for
# the single items, ("lac", list, i) for an entry of a list.
Part = tuple[Any, ...]


def is_looked_after_item(item: str) -> bool:
    return item in ITEM_ORDER


def partial_date(text: str) -> tuple[int, int | None, int | None]:
    """(year, month, day) of ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; RecordError otherwise."""
    found = _PARTIAL_DATE.fullmatch(text.strip())
    if found is None:
        raise RecordError(f"The date of the previous permanence order must be YYYY, YYYY-MM or "
                          f"YYYY-MM-DD (a date may be known only in part), not {text!r}")
    year, month, day = found.groups()
    return int(year), None if month is None else int(month), None if day is None else int(day)


def _latest(items: list[Any], what: str) -> Any:
    if not items:
        raise RecordError(f"There is no {what} recorded for this child")
    return items[-1]


_WHAT = {"care": "period of care", "legal_status": "legal status", "placement": "placement",
         "social_worker": "social worker allocation", "lac_review": "looked-after review",
         "missing": "missing episode", "adoption": "decision to place for adoption",
         "outcomes": "year of outcomes", "care_leaver": "contact with the care leaver"}


def set_item(la: LookedAfter, item: str, value: Any) -> Part:
    """Write one item as :func:`apply_looked_after` recorded it, without judging it again;
    returns the part written. RecordError when there is nothing to write it on."""
    namespace, name = item.split(".", 1)
    single = _SINGLE.get(item)
    if single is not None:
        setattr(la, single, bool(value) if item in ("uasc.status",) else value)
        return ("lac",)
    if namespace == "previous_permanence":
        pp = la.previous_permanence
        if name == "option":
            if pp is None:
                la.previous_permanence = PreviousPermanence(option=value)
            else:
                pp.option = value
        elif pp is None:
            raise RecordError("There is no previous permanence recorded: give the option "
                              "(previous_permanence.option) first")
        elif name == "date":
            pp.year, pp.month, pp.day = (None, None, None) if value is None \
                else partial_date(str(value))
        else:
            pp.la = value
        return ("lac",)
    attr, opening, new = _LISTS[namespace]
    items: list[Any] = getattr(la, attr)
    if name == opening:
        if namespace == "outcomes" and items and items[-1].year == value:
            return ("lac", attr, len(items) - 1)
        items.append(new(value))
        return ("lac", attr, len(items) - 1)
    if item == "placement.reason_changed":
        ended = [i for i, p in enumerate(items) if p.end is not None]
        if not ended:
            raise RecordError("No placement has ended: give the reason for a change of "
                              "placement with the next placement's start date")
        index = ended[-1]
    else:
        _latest(items, _WHAT[namespace])
        index = len(items) - 1
    setattr(items[index], _ATTRS.get(item, name), value)
    return ("lac", attr, index)


def _before(la: LookedAfter, item: str) -> Any:
    """The value ``item`` holds now (None for an opening item)."""
    namespace, name = item.split(".", 1)
    if item in _SINGLE:
        return getattr(la, _SINGLE[item])
    if namespace == "previous_permanence":
        pp = la.previous_permanence
        if pp is None:
            return None
        if name == "date":
            return _partial_text(pp)
        return pp.option if name == "option" else pp.la
    attr, opening, _ = _LISTS[namespace]
    items: list[Any] = getattr(la, attr)
    if name == opening or not items:
        return None
    if item == "placement.reason_changed":
        ended = [p for p in items if p.end is not None]
        return ended[-1].reason_changed if ended else None
    value = getattr(items[-1], _ATTRS.get(item, name))
    return None if value == "" else value  # a required item not yet given on a new entry


def _partial_text(pp: PreviousPermanence) -> str | None:
    if pp.year is None:
        return None
    text = f"{pp.year:04d}"
    if pp.month is not None:
        text += f"-{pp.month:02d}"
        if pp.day is not None:
            text += f"-{pp.day:02d}"
    return text


def apply_looked_after(la: LookedAfter, values: Mapping[str, Any], changed: Changed) -> None:
    """Apply the looked-after items of a form's ``record:`` values (already coerced to their
    types) in the order of :data:`LOOKED_AFTER_ITEMS`, calling ``changed(item, value, before)``
    for every change, implicit ones included. RecordError on a value that does not fit the
    record; the caller puts the record back as it was."""
    for item in sorted(values, key=ITEM_ORDER.__getitem__):
        value = values[item]
        needed = _NEEDS.get(item)
        if needed is not None and needed not in values:
            raise RecordError(f"Give '{needed}' ({RECORD_ITEMS[needed].title}) with '{item}' "
                              f"({RECORD_ITEMS[item].title})")
        first, then = _check(la, item, value)
        _implicit(la, first, changed)
        if item == "previous_permanence.date":
            year, month, day = partial_date(str(value))
            value = _partial_text(PreviousPermanence("P4", year, month, day))
        if item == "outcomes.year" and la.outcomes and la.outcomes[-1].year == value:
            continue  # back to the latest year's outcomes: nothing changes
        if item == "mother.status" and value is False and la.first_child_born is not None:
            changed("mother.first_child_born", None, la.first_child_born)
            la.first_child_born = None
        before = _before(la, item)
        set_item(la, item, value)
        changed(item, value, before)
        _implicit(la, then, changed)
    check_looked_after(la)


def _implicit(la: LookedAfter, changes: list[tuple[str, Any]], changed: Changed) -> None:
    for item, value in changes:
        before = _before(la, item)
        set_item(la, item, value)
        changed(item, value, before)


def _open_period(la: LookedAfter, day: date, what: str) -> PeriodOfCare:
    period = la.periods[-1] if la.periods else None
    if period is None or day < period.start:
        raise RecordError(f"The child is not looked after on {day}: record the start of the "
                          f"period of care (care.start) before the {what}")
    if period.end is not None:
        raise RecordError(f"The child's period of care ended on {period.end}: a {what} starting "
                          f"{day} needs a new period of care (care.start) first")
    return period


def _during_care(la: LookedAfter, day: date, what: str, end_day: bool = False) -> None:
    for p in la.periods:
        if p.start <= day and (p.end is None or day < p.end or (end_day and day == p.end)):
            return
    raise RecordError(f"The child is not looked after on {day}: a {what} is recorded only "
                      "while the child is looked after")


Implicit = list[tuple[str, Any]]


def _check(la: LookedAfter, item: str, value: Any) -> tuple[Implicit, Implicit]:
    """RecordError if ``value`` does not fit; else the implicit changes it brings, (before it,
    after it)."""
    namespace, name = item.split(".", 1)
    if item == "care.start":
        latest = la.periods[-1] if la.periods else None
        if latest is not None and latest.end is None:
            raise RecordError(f"The child is already looked after (since {latest.start}): end "
                              "that period of care first")
        if latest is not None and latest.end is not None and value <= latest.end:
            raise RecordError(
                f"A new period of care must start after the last one ended ({latest.end}); a "
                "child who does not leave care stays in one period (DfE rule 431)")
        return [], []
    if item == "care.end":
        period = _latest(la.periods, "period of care")
        if period.end is not None:
            raise RecordError(f"The period of care starting {period.start} already ended on "
                              f"{period.end}")
        if value <= period.start:
            raise RecordError(f"A period of care must end after the day it started "
                              f"({period.start}) (DfE rule 355)")
        implicit: Implicit = []
        for ns, what in (("legal_status", "legal status"), ("placement", "placement")):
            attr = _LISTS[ns][0]
            items: list[Any] = getattr(la, attr)
            if items and items[-1].end is None and items[-1].start >= period.start:
                if items[-1].start >= value:
                    raise RecordError(f"The {what} starting {items[-1].start} starts on or "
                                      f"after the day care ends ({value})")
                implicit.append((f"{ns}.end", value))
        return [], implicit  # the period ends first, then what was open in it
    if item in ("legal_status.start", "placement.start"):
        what = "legal status" if namespace == "legal_status" else "placement"
        period = _open_period(la, value, what)
        items = getattr(la, _LISTS[namespace][0])
        current = items[-1] if items and items[-1].start >= period.start else None
        if current is not None and value <= current.start:
            raise RecordError(f"A new {what} must start after the current one (which started "
                              f"{current.start})")
        if current is not None and current.end is None:
            return [(f"{namespace}.end", value)], []
        return [], []
    if item == "social_worker.start":
        current = la.social_workers[-1] if la.social_workers else None
        if current is not None and value <= current.start:
            raise RecordError(f"A new social worker allocation must start after the current one "
                              f"(which started {current.start})")
        if current is not None and current.end is None:
            return [("social_worker.end", value)], []
        return [], []
    if item == "lac_review.date":
        _during_care(la, value, "looked-after child review", end_day=True)
        if la.reviews and value <= la.reviews[-1].held:
            raise RecordError(f"Looked-after child reviews are recorded in date order: the "
                              f"latest was held on {la.reviews[-1].held}")
        return [], []
    if item == "missing.start":
        _during_care(la, value, "missing episode")
        return [], []
    if item == "outcomes.year":
        if not 2000 <= value <= 2100:
            raise RecordError(f"The year of the outcomes is the year the collection ends, like "
                              f"2026 for 2025-26 (not {value})")
        if la.outcomes and value < la.outcomes[-1].year:
            raise RecordError(f"Outcomes are recorded year by year: those of {value} come "
                              f"before the latest recorded ({la.outcomes[-1].year})")
    return [], []
