"""Changing the case record: a new referral, and a form's ``record:`` values.

Both refuse, with a :class:`RecordError` in a social worker's words, any change that would make the
record impossible (an episode closed before its work, two open plans…), and leave the record as it
was when they do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from carepath.core.codes import STATUTORY_CODELISTS
from carepath.core.errors import RecordError
from carepath.core.record_items import RECORD_ITEMS, ItemType, RecordItem
from carepath.engine.record.context import current_episode
from carepath.engine.record.lac_changes import apply_looked_after, is_looked_after_item
from carepath.engine.record.model import (
    Assessment,
    CaseRecord,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
    as_date,
    clone_record,
    iso_date,
    reviews_to_check,
)

CLOSED_MESSAGE = "This episode was closed on {date}: no more work can be recorded on it"


@dataclass(frozen=True)
class RecordChange:
    """One record item changed by :func:`apply_values`: the value written and the one before."""

    item: str
    value: Any
    before: Any


def new_episode(
    record: CaseRecord, referral_date: date, source: str | None, nfa: bool = False
) -> Episode:
    """Record a new referral: append a new episode and return it.

    The current episode must be closed first. An open referral with no further action does not
    block a new one (DfE rules 8815/8816 allow it to stay open).
    """
    referral_date = _coerce_date("Referral date", referral_date)
    if source is not None:
        source = _coerce_code(RECORD_ITEMS["referral.source"], source)
    current = current_episode(record)
    if current is not None:
        if current.closure_date is None and not current.referral_nfa:
            raise RecordError(
                "This child already has an open episode (referral "
                f"{iso_date(current.referral_date)}): close it before recording a new referral"
            )
        after = current.closure_date or current.referral_date
        if referral_date < after:
            raise RecordError(
                f"The referral date must be on or after {iso_date(after)}, when the child's previous "
                "episode " + ("closed" if current.closure_date else "began")
            )
    episode = Episode(referral_date=referral_date, referral_source=source, referral_nfa=nfa)
    record.episodes.append(episode)
    return episode


_START_ITEMS = frozenset({"assessment.start", "s47.start", "cp_plan.start", "cin_plan.start"})
_ITEM_ORDER = {path: i for i, path in enumerate(RECORD_ITEMS)}


def apply_values(record: CaseRecord, values: Mapping[str, Any]) -> list[RecordChange]:
    """Apply ``{record item: value}`` (a form's ``record:`` mappings) to the current episode.

    ``X.start`` items come first, each opening a new X; the other items follow in the order of
    ``RECORD_ITEMS`` and update the latest X. The looked-after items are the child's, not the
    episode's (:mod:`carepath.engine.record.lac_changes`), and need no open episode. None (and empty text) means "not given" and is
    skipped. Either every value is applied or, on a :class:`RecordError`, none is.
    """
    unknown = sorted(k for k in values if k not in RECORD_ITEMS)
    if unknown:
        raise RecordError(f"'{unknown[0]}' is not an item of the case record")
    given = {k: v for k, v in values.items() if v is not None and v != ""}
    order = sorted(given, key=lambda k: (k not in _START_ITEMS, _ITEM_ORDER[k]))
    coerced = {k: _coerce(k, given[k]) for k in order}

    if coerced.get("child.upn") and coerced.get("child.upn_unknown"):
        raise RecordError("Give either a unique pupil number or the reason it is unknown, not both")
    if coerced.get("child.birth_date") and coerced.get("child.expected_birth_date"):
        raise RecordError("Give either the date of birth or the expected date of birth, not both")

    lac_items = {k: coerced[k] for k in order if is_looked_after_item(k)}
    episode_items = [k for k in order
                     if not k.startswith("child.") and not is_looked_after_item(k)]
    ep = current_episode(record)
    if episode_items:
        if ep is None:
            raise RecordError("This child has no episode yet: record a referral first")
        if ep.closure_date is not None:
            raise RecordError(CLOSED_MESSAGE.format(date=iso_date(ep.closure_date)))
        nfa = coerced.get("referral.nfa", ep.referral_nfa)
        if nfa and any(k in _START_ITEMS or k == "episode.emergency_protection" for k in order):
            raise RecordError(
                "This referral was recorded as needing no further action: no assessment, "
                "enquiry or plan can be recorded on it"
            )

    snapshot = clone_record(record)
    changes: list[RecordChange] = []
    try:
        for item in order:
            if item not in lac_items:
                _apply_one(record, item, coerced[item], changes)
        if ep is not None and episode_items:
            _check_episode(ep)
        if lac_items:
            apply_looked_after(record.looked_after, lac_items,
                               lambda path, new, before: changes.append(
                                   RecordChange(path, new, before)))
    except RecordError:
        record.child = snapshot.child
        record.episodes = snapshot.episodes
        record.looked_after = snapshot.looked_after
        raise
    return changes


def _coerce_date(title: str, value: Any) -> date:
    try:
        return as_date(value)
    except ValueError:
        raise RecordError(f"{title} must be a date, like 2025-05-01 (not {value!r})") from None


def _coerce_code(item: RecordItem, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError(f"{item.title} must be a code (not {value!r})")
    code = str(value).strip()
    codelist = STATUTORY_CODELISTS[item.codelist or ""]
    if code not in codelist:
        raise RecordError(f"{item.title}: '{code}' is not a code in the list '{codelist.title}'")
    return code


def _coerce_number(item: RecordItem, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{item.title} must be a whole number (not {value!r})")
    return value


def _coerce(path: str, value: Any) -> Any:
    item = RECORD_ITEMS[path]
    if item.type is ItemType.DATE:
        return _coerce_date(item.title, value)
    if item.type is ItemType.YESNO:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("yes", "true", "1"):
            return True
        if text in ("no", "false", "0"):
            return False
        raise RecordError(f"{item.title} must be yes or no (not {value!r})")
    if item.type is ItemType.CODE:
        return _coerce_code(item, value)
    if item.type is ItemType.NUMBER:
        return _coerce_number(item, value)
    if item.type is ItemType.CODES:
        if isinstance(value, str | int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple):
            raise RecordError(f"{item.title} must be a list of codes (not {value!r})")
        codes = [_coerce_code(item, v) for v in value]
        if len(set(codes)) != len(codes):
            raise RecordError(f"{item.title}: each code may be given only once")
        return codes
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RecordError(f"{item.title} must be text (not {value!r})")
    return str(value).strip()


def _apply_one(record: CaseRecord, item: str, value: Any, changes: list[RecordChange]) -> None:
    def changed(path: str, new: Any, before: Any) -> None:
        changes.append(RecordChange(path, new, before))

    namespace, name = item.split(".", 1)
    if namespace == "child":
        child = record.child
        before = getattr(child, name)
        setattr(child, name, list(value) if isinstance(value, list) else value)
        changed(item, value, list(before) if isinstance(before, list) else before)
        # one or the other: a UPN replaces the reason it was unknown; a birth date replaces the
        # expected date of birth (and the other way round)
        pairs = {"upn": "upn_unknown", "upn_unknown": "upn",
                 "birth_date": "expected_birth_date", "expected_birth_date": "birth_date"}
        other = pairs.get(name)
        if other is not None and getattr(child, other) is not None:
            changed(f"child.{other}", None, getattr(child, other))
            setattr(child, other, None)
        return

    ep = record.episodes[-1]
    if namespace == "referral":
        attr = {"date": "referral_date", "source": "referral_source", "nfa": "referral_nfa"}[name]
        if name == "nfa" and value and (ep.assessments or ep.s47s or ep.cp_plans or ep.cin_plans
                                        or ep.emergency_protection):
            raise RecordError(
                "This referral cannot be marked as needing no further action: an assessment, "
                "enquiry or plan is already recorded on it"
            )
        changed(item, value, getattr(ep, attr))
        setattr(ep, attr, value)
    elif name == "emergency_protection":
        if value in ep.emergency_protection:
            raise RecordError(f"An emergency protection order or police protection on "
                              f"{iso_date(value)} is already recorded")
        changed(item, value, None)
        ep.emergency_protection = sorted([*ep.emergency_protection, value])
    elif namespace == "episode":
        changed(item, value, ep.primary_need)
        ep.primary_need = value
    elif namespace == "closure":
        attr = {"date": "closure_date", "reason": "closure_reason"}[name]
        changed(item, value, getattr(ep, attr))
        setattr(ep, attr, value)
    elif namespace == "assessment":
        _apply_assessment(ep, name, value, changed)
    elif namespace == "s47":
        _apply_s47(ep, name, value, changed)
    elif namespace == "cp_plan":
        _apply_cp_plan(ep, name, value, changed)
    else:
        _apply_cin_plan(ep, name, value, changed)


def _apply_assessment(ep: Episode, name: str, value: Any, changed: _Changed) -> None:
    latest = ep.assessments[-1] if ep.assessments else None
    if name == "start":
        if latest is not None and latest.authorised is None:
            raise RecordError(
                f"An assessment is already open in this episode (started {iso_date(latest.start)}): "
                "authorise it first"
            )
        ep.assessments.append(Assessment(start=value))
        changed("assessment.start", value, None)
        return
    if latest is None:
        raise RecordError("There is no assessment to authorise in this episode"
                          if name == "authorised" else "There is no assessment in this episode")
    if name == "authorised":
        changed("assessment.authorised", value, latest.authorised)
        latest.authorised = value
    else:
        if value and latest.authorised is None:
            raise RecordError("Factors can only be recorded on an assessment once it is "
                              "authorised (DfE rule 8614)")
        if "21" in value and len(value) > 1:
            raise RecordError("Factor 21 (no factors identified) cannot be recorded with other "
                              "factors (DfE rule 8869)")
        changed("assessment.factors", list(value), list(latest.factors))
        latest.factors = list(value)


def _apply_s47(ep: Episode, name: str, value: Any, changed: _Changed) -> None:
    latest = ep.s47s[-1] if ep.s47s else None
    if name == "start":
        if latest is not None and latest.icpc_date is None and not latest.icpc_not_required:
            raise RecordError(
                "A section 47 enquiry is already open in this episode (started "
                f"{iso_date(latest.start)}): record its initial child protection conference, or that "
                "none is required, first"
            )
        ep.s47s.append(Section47(start=value))
        changed("s47.start", value, None)
        return
    if latest is None:
        raise RecordError("There is no section 47 enquiry in this episode")
    if name == "icpc_date":
        changed("s47.icpc_date", value, latest.icpc_date)
        latest.icpc_date = value
    else:
        changed("s47.icpc_not_required", value, latest.icpc_not_required)
        latest.icpc_not_required = value


def _apply_cp_plan(ep: Episode, name: str, value: Any, changed: _Changed) -> None:
    latest = ep.cp_plans[-1] if ep.cp_plans else None
    if name == "start":
        if latest is not None and latest.end is None:
            raise RecordError(
                "A child protection plan is already open in this episode (started "
                f"{iso_date(latest.start)}): end it first"
            )
        ep.cp_plans.append(CPPlan(start=value))
        changed("cp_plan.start", value, None)
        return
    if latest is None:
        raise RecordError("There is no child protection plan in this episode")
    if name == "initial_category":
        changed("cp_plan.initial_category", value, latest.initial_category)
        latest.initial_category = value
        if latest.latest_category is None:
            changed("cp_plan.latest_category", value, None)
            latest.latest_category = value
    elif name == "latest_category":
        changed("cp_plan.latest_category", value, latest.latest_category)
        latest.latest_category = value
    elif name == "review":
        changed("cp_plan.review", value, latest.reviews[-1] if latest.reviews else None)
        latest.reviews.append(value)
    else:
        changed("cp_plan.end", value, latest.end)
        latest.end = value


def _apply_cin_plan(ep: Episode, name: str, value: Any, changed: _Changed) -> None:
    latest = ep.cin_plans[-1] if ep.cin_plans else None
    if name == "start":
        if latest is not None and latest.end is None:
            raise RecordError(
                "A child in need plan is already open in this episode (started "
                f"{iso_date(latest.start)}): end it first"
            )
        ep.cin_plans.append(CINPlan(start=value))
        changed("cin_plan.start", value, None)
        return
    if latest is None:
        raise RecordError("There is no child in need plan in this episode")
    changed("cin_plan.end", value, latest.end)
    latest.end = value


def _check_episode(ep: Episode) -> None:
    """Dates within the current episode that would make the record impossible, or break a
    DfE rule checked within one child's record (the rule is named in the message)."""
    ref = ep.referral_date
    for day in ep.emergency_protection:
        _not_before(day, ref, "An emergency protection order or police protection recorded on "
                    "this episode cannot be before the referral")
    for a in ep.assessments:
        _not_before(a.start, ref, "An assessment cannot start before the referral (DfE rule "
                    "1103)")
        if a.authorised is not None:
            _not_before(a.authorised, a.start, "An assessment cannot be authorised before it "
                        "started (DfE rule 8608)")
    icpc_dates: set[date] = set()
    for s in ep.s47s:
        _not_before(s.start, ref, "A section 47 enquiry cannot start before the referral")
        if s.icpc_date is not None:
            _not_before(s.icpc_date, s.start, "The initial child protection conference cannot "
                        "be before the strategy discussion (DfE rule 8615)")
            if s.icpc_date.weekday() >= 5:
                raise RecordError(
                    "The initial child protection conference cannot be on a Saturday or Sunday "
                    f"({iso_date(s.icpc_date)} is a {s.icpc_date:%A}) (DfE rule 8875)")
            if s.icpc_not_required:
                raise RecordError("A section 47 enquiry cannot have both an initial child "
                                  "protection conference and 'conference not required'")
            icpc_dates.add(s.icpc_date)
    for p in ep.cp_plans:
        _not_before(p.start, ref, "A child protection plan cannot start before the referral")
        if p.start not in icpc_dates:
            raise RecordError(
                "The child protection plan must start on the day of the initial child "
                f"protection conference ({iso_date(p.start)} is not the date of a conference "
                "recorded in this episode) (DfE rule 2885)")
        for r in reviews_to_check(p.reviews):
            if r <= p.start:
                raise RecordError(f"A review ({iso_date(r)}) must be after the child protection "
                                  f"plan started ({iso_date(p.start)}) (DfE rule 8841)")
        if p.end is not None and p.end <= p.start:
            raise RecordError(f"A child protection plan must end after the day it started "
                              f"({iso_date(p.start)}) (DfE rules 8840, 8925)")
    for c in ep.cin_plans:
        _not_before(c.start, ref, "A child in need plan cannot start before the referral")
        if c.end is not None:
            _not_before(c.end, c.start, "A child in need plan cannot end before it started")
    if ep.closure_date is not None:
        _not_before(ep.closure_date, ref, "An episode cannot close before its referral (DfE "
                    "rule 8630)")
        last = max(episode_dates(ep))
        _not_before(ep.closure_date, last, "An episode cannot close before work recorded on it")
        if ep.closure_reason is None:
            raise RecordError("Give the reason for closure with the closure date (DfE rule 8805)")
    elif ep.closure_reason is not None:
        raise RecordError("Give the closure date with the reason for closure (DfE rule 8810)")


def episode_dates(ep: Episode) -> list[date]:
    """Every date recorded on an episode except its closure date."""
    dates = [ep.referral_date]
    for a in ep.assessments:
        dates += [d for d in (a.start, a.authorised) if d is not None]
    for s in ep.s47s:
        dates += [d for d in (s.start, s.icpc_date) if d is not None]
    for p in ep.cp_plans:
        dates += [p.start, *p.reviews] + ([p.end] if p.end is not None else [])
    for c in ep.cin_plans:
        dates += [c.start] + ([c.end] if c.end is not None else [])
    dates += ep.emergency_protection
    return dates


def _not_before(value: date, limit: date, message: str) -> None:
    if value < limit:
        rule = ""
        if message.endswith(")") and "(DfE rule" in message:
            message, _, rule = message.rpartition(" (")
            rule = f" ({rule}"
        raise RecordError(f"{message} ({iso_date(value)} is before {iso_date(limit)}){rule}")


_Changed = Callable[[str, Any, Any], None]
