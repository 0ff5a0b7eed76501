"""The record as a case's events tell it: the record changes of the event log, replayed.

Every change to the record is in the case's (hash-chained) events: ``case.opened`` and
``referral.recorded`` (a new episode, with the referral and the child's details as given),
``child.details_changed`` and ``record.changed`` (each item written, with its value, including the
items a change clears or fills in on its own). :class:`RecordReplay` applies them in order, as they
were applied, without judging them again (the rules were checked when they were written), and
keeps which event last wrote each part of the record, so that an audit can compare the record
tables with the events and name the event a row should match.

Events written before the child's details were part of ``case.opened`` (and ``referral.recorded``)
leave those details unknown until a later event gives them: :attr:`RecordReplay.unknown_child`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from carepath.core.errors import RecordError
from carepath.core.record_items import RECORD_ITEMS, ItemType
from carepath.engine.record.lac_changes import is_looked_after_item, set_item
from carepath.engine.record.model import (
    Assessment,
    CaseRecord,
    Child,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
    child_from_json,
)

__all__ = ["RECORD_EVENTS", "CHILD_FIELDS", "Part", "RecordReplay", "child_json"]

# The events that change the record; every other kind leaves it as it is.
RECORD_EVENTS = frozenset({"case.opened", "referral.recorded", "child.details_changed",
                           "record.changed"})

CHILD_FIELDS = ("la_child_id", "upn", "upn_unknown", "birth_date", "expected_birth_date", "sex",
                "ethnicity", "disabilities")

# A part of the record: ("child",), ("episode", e), ("assessment", e, i), ("s47", e, i),
# ("cp_plan", e, i), ("review", e, i, r), ("cin_plan", e, i); e, i, r positions from 0; and the
# looked-after record's ("lac",) (its single items) and ("lac", list, i) (an entry of a list).
Part = tuple[Any, ...]


def child_json(child: Child) -> dict[str, Any]:
    """The child's details as an event carries them (dates as ISO text)."""
    return {
        "la_child_id": child.la_child_id,
        "upn": child.upn,
        "upn_unknown": child.upn_unknown,
        "birth_date": child.birth_date.isoformat() if child.birth_date else None,
        "expected_birth_date": (child.expected_birth_date.isoformat()
                                if child.expected_birth_date else None),
        "sex": child.sex,
        "ethnicity": child.ethnicity,
        "disabilities": list(child.disabilities),
    }


def _date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _value(item: str, value: Any) -> Any:
    """A value as ``record.changed`` carries it, as the record holds it."""
    if value is None:
        return None
    kind = RECORD_ITEMS[item].type
    if kind is ItemType.DATE:
        return _date(value)
    if kind is ItemType.YESNO:
        return bool(value)
    if kind is ItemType.CODES:
        return [str(v) for v in value]
    if kind is ItemType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"{item} holds a number, not {value!r}")
        return int(value)
    return str(value)


class RecordReplay:
    """Feed a case's events in order (:meth:`apply`); read :attr:`record` at the end."""

    def __init__(self) -> None:
        self.record: CaseRecord | None = None  # None until the case is opened
        self.unknown_child: set[str] = set()
        self.written: dict[Part, int] = {}  # part -> seq of the last event that wrote it

    def apply(self, seq: int, kind: str, payload: Mapping[str, Any]) -> None:
        """Apply one event; :class:`RecordError` if it cannot apply to the record so far."""
        if kind not in RECORD_EVENTS:
            return
        try:
            if kind in ("case.opened", "referral.recorded"):
                self._referral(seq, kind, payload)
            elif kind == "child.details_changed":
                for change in payload["changes"]:
                    self._change(seq, str(change["item"]), change["after"])
            else:
                for change in payload["changes"]:
                    self._change(seq, str(change["item"]), change["value"])
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise RecordError(f"event {seq} ({kind}) cannot be replayed: it does not hold a "
                              f"record change as carepath writes them ({type(exc).__name__})"
                              ) from None

    # -- a new episode ---------------------------------------------------------------------

    def _referral(self, seq: int, kind: str, payload: Mapping[str, Any]) -> None:
        if kind == "case.opened" and self.record is not None:
            raise RecordError(f"event {seq} opens the case again")
        if kind == "referral.recorded" and self.record is None:
            raise RecordError(f"event {seq} records a referral before the case was opened")
        given = payload.get("child")
        if isinstance(given, Mapping):
            child = child_from_json(given)
            if self.record is None:
                self.record = CaseRecord(child=child)
            else:
                self.record.child = child
            self.unknown_child = set()
            self.written[("child",)] = seq
        elif self.record is None:
            # written before case.opened carried the child's details
            self.record = CaseRecord(child=Child(la_child_id=""))
            self.unknown_child = set(CHILD_FIELDS)
        referral = payload["referral"]
        source = referral.get("source")
        self.record.episodes.append(Episode(
            referral_date=_value("referral.date", referral["date"]),
            referral_source=None if source is None else str(source),
        ))
        self.written[("episode", len(self.record.episodes) - 1)] = seq

    # -- one record item -------------------------------------------------------------------

    def _change(self, seq: int, item: str, raw: Any) -> None:
        record = self.record
        if record is None:
            raise RecordError(f"event {seq} changes the record before the case was opened")
        if item not in RECORD_ITEMS:
            raise RecordError(f"event {seq} changes '{item}', which is not an item of the "
                              "record")
        value = _value(item, raw)
        namespace, name = item.split(".", 1)
        if namespace == "child":
            setattr(record.child, name, list(value) if isinstance(value, list) else value)
            self.unknown_child.discard(name)
            self.written[("child",)] = seq
            return
        if is_looked_after_item(item):  # the child's looked-after record: no episode needed
            self.written[set_item(record.looked_after, item, value)] = seq
            return
        if not record.episodes:
            raise RecordError(f"event {seq} changes '{item}' but the case has no episode")
        e = len(record.episodes) - 1
        ep = record.episodes[e]
        if namespace in ("referral", "episode", "closure"):
            if item == "episode.emergency_protection":
                ep.emergency_protection = sorted([*ep.emergency_protection, value])
            else:
                attr = {"referral.date": "referral_date", "referral.source": "referral_source",
                        "referral.nfa": "referral_nfa", "episode.primary_need": "primary_need",
                        "closure.date": "closure_date", "closure.reason": "closure_reason"}[item]
                setattr(ep, attr, value)
            self.written[("episode", e)] = seq
            return
        lists: dict[str, list[Any]] = {"assessment": ep.assessments, "s47": ep.s47s,
                                       "cp_plan": ep.cp_plans, "cin_plan": ep.cin_plans}
        items = lists[namespace]
        if name == "start":
            new = {"assessment": Assessment, "s47": Section47, "cp_plan": CPPlan,
                   "cin_plan": CINPlan}[namespace](start=value)
            items.append(new)
        elif not items:
            raise RecordError(f"event {seq} changes '{item}' but the episode has none")
        latest = items[-1]
        i = len(items) - 1
        if name == "start":
            pass
        elif namespace == "cp_plan" and name == "review":
            latest.reviews.append(value)
            self.written[("review", e, i, len(latest.reviews) - 1)] = seq
        else:
            attr = {"authorised": "authorised", "factors": "factors", "icpc_date": "icpc_date",
                    "icpc_not_required": "icpc_not_required", "initial_category":
                    "initial_category", "latest_category": "latest_category", "end": "end"}[name]
            setattr(latest, attr, list(value) if isinstance(value, list) else value)
        self.written[(namespace, e, i)] = seq
