"""Where a story stands against a case record: what is recorded, what comes next.

The story runner compares the story (what happened to the child) with the record (what the pack
has recorded so far). Each record item a form can fill gets a :class:`StoryValue`: the value the
story gives for it now, and whether recording it is progress (a *pending* event such as the next
review date) or just a fact that stays true (the child's ethnicity, the latest category).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from carepath.engine.record.case_record import CaseRecord, Episode
from carepath.engine.stories import lac_cursor

# Order of events that share a date: a plan ends at a review, a CIN plan follows a CP plan,
# closure comes last.
RANK = {
    "referral.date": 0,
    "referral.nfa": 1,
    "episode.primary_need": 1,
    "s47.start": 2,
    "episode.emergency_protection": 2,
    "assessment.start": 3,
    "s47.icpc_date": 4,
    "s47.icpc_not_required": 4,
    "cp_plan.start": 5,
    "cp_plan.initial_category": 5,
    "cp_plan.review": 6,
    "assessment.authorised": 7,
    "assessment.factors": 7,
    "cp_plan.end": 8,
    "cin_plan.end": 9,
    "cin_plan.start": 10,
    "closure.date": 11,
    "closure.reason": 11,
    **lac_cursor.RANK,
}


@dataclass(frozen=True)
class StoryValue:
    item: str
    value: Any
    when: date | None = None  # date of the event, for pending items
    pending: bool = False

    @property
    def key(self) -> tuple[date, int]:
        return (self.when or date.min, RANK.get(self.item, 0))


@dataclass(frozen=True)
class PendingEvent:
    """A dated thing the story has and the record does not (yet)."""

    item: str
    when: date
    index: tuple[int, ...]  # which assessment / plan / review it is

    @property
    def key(self) -> tuple[date, int]:
        return (self.when, RANK.get(self.item, 0))


def _list(target: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = target.get(key) or []
    return list(value)


def pending_events(target: Mapping[str, Any], episode: Episode | None) -> list[PendingEvent]:
    """Every dated event of the story episode ``target`` missing from the record ``episode``."""
    out: list[PendingEvent] = []
    referral = target["referral"]
    if episode is None:
        out.append(PendingEvent("referral.date", referral["date"], ()))
        return out
    if referral.get("nfa") and not episode.referral_nfa:
        # the referral decision: no further action (a pack may record it with the closure)
        out.append(PendingEvent("referral.nfa", referral["date"], ()))
    if target.get("primary_need") and episode.primary_need is None:
        out.append(PendingEvent("episode.primary_need", referral["date"], ()))
    for i, a in enumerate(_list(target, "assessments")):
        have = episode.assessments[i] if i < len(episode.assessments) else None
        if have is None:
            out.append(PendingEvent("assessment.start", a["start"], (i,)))
        if a.get("authorised") and (have is None or have.authorised is None):
            out.append(PendingEvent("assessment.authorised", a["authorised"], (i,)))
    for i, s in enumerate(_list(target, "s47")):
        have_s = episode.s47s[i] if i < len(episode.s47s) else None
        if have_s is None:
            out.append(PendingEvent("s47.start", s["start"], (i,)))
        if s.get("icpc_date") and (have_s is None or have_s.icpc_date is None):
            out.append(PendingEvent("s47.icpc_date", s["icpc_date"], (i,)))
        if s.get("icpc_not_required") and (have_s is None or not have_s.icpc_not_required):
            out.append(PendingEvent("s47.icpc_not_required", s["start"], (i,)))
    for i, p in enumerate(_list(target, "cp_plans")):
        have_p = episode.cp_plans[i] if i < len(episode.cp_plans) else None
        if have_p is None:
            out.append(PendingEvent("cp_plan.start", p["start"], (i,)))
        done = len(have_p.reviews) if have_p else 0
        for j, review in enumerate(list(p.get("reviews") or [])[done:], start=done):
            out.append(PendingEvent("cp_plan.review", review, (i, j)))
        if p.get("end") and (have_p is None or have_p.end is None):
            out.append(PendingEvent("cp_plan.end", p["end"], (i,)))
    for i, c in enumerate(_list(target, "cin_plans")):
        have_c = episode.cin_plans[i] if i < len(episode.cin_plans) else None
        if have_c is None:
            out.append(PendingEvent("cin_plan.start", c["start"], (i,)))
        if c.get("end") and (have_c is None or have_c.end is None):
            out.append(PendingEvent("cin_plan.end", c["end"], (i,)))
    for i, day in enumerate(target.get("emergency_protection") or []):
        if day not in episode.emergency_protection:
            out.append(PendingEvent("episode.emergency_protection", day, (i,)))
    closure = target.get("closure")
    if closure and episode.closure_date is None:
        out.append(PendingEvent("closure.date", closure["date"], ()))
    out.sort(key=lambda e: e.key)
    return out


def pending_looked_after(looked_after: Mapping[str, Any] | None, record: CaseRecord,
                         until: date | None = None) -> list[PendingEvent]:
    """Every event of the story's ``looked_after`` record missing from the record (those
    before ``until`` only, when it is given), in order."""
    if not looked_after:
        return []
    out = [PendingEvent(item, when, index) for item, when, index
           in lac_cursor.looked_after_events(looked_after, record.looked_after, until)]
    out.sort(key=lambda e: e.key)
    return out


def story_values(child: Mapping[str, Any], target: Mapping[str, Any], record: CaseRecord,
                 items: Collection[str], looked_after: Mapping[str, Any] | None = None
                 ) -> dict[str, StoryValue]:
    """What the story gives, now, for each of ``items`` (the record items one form fills).

    ``X.start`` in ``items`` means the form opens a new X, so the form's other X items refer to
    that new one; otherwise they refer to the latest X already in the record. The same holds
    for the looked-after items (``looked_after``: the story's record, see
    :mod:`carepath.engine.stories.lac_cursor`).
    """
    episode = record.episodes[-1] if record.episodes else None
    out: dict[str, StoryValue] = {}
    if looked_after:
        for item, value, when, pending in lac_cursor.looked_after_values(
                looked_after, record.looked_after, items):
            out[item] = StoryValue(item, value, when, pending)

    def put(item: str, value: Any, when: date | None = None, pending: bool = False) -> None:
        if item in items and value is not None:
            out[item] = StoryValue(item, value, when, pending)

    for key in ("la_child_id", "upn", "upn_unknown", "birth_date", "expected_birth_date", "sex",
                "ethnicity", "disabilities"):
        put(f"child.{key}", child.get(key))
    referral = target["referral"]
    put("referral.date", referral["date"])
    put("referral.source", referral.get("source"))
    nfa = bool(referral.get("nfa"))
    if episode is None:
        put("referral.nfa", nfa)
        return out
    put("referral.nfa", nfa, referral["date"], nfa and not episode.referral_nfa)
    need = target.get("primary_need")
    put("episode.primary_need", need, referral["date"], episode.primary_need is None)
    protection = [d for d in target.get("emergency_protection") or []
                  if d not in episode.emergency_protection]
    if protection:  # the next one not recorded yet (each recording adds one)
        put("episode.emergency_protection", protection[0], protection[0], True)

    def cursor(kind: str, have: int) -> tuple[Mapping[str, Any] | None, bool]:
        """The story entry the form's items refer to, and whether the form opens it."""
        wanted = _list(target, kind)
        opening = f"{_prefix(kind)}.start" in items and have < len(wanted)
        index = have if opening else have - 1
        if 0 <= index < len(wanted):
            return wanted[index], opening
        return None, opening

    a, opening = cursor("assessments", len(episode.assessments))
    if a is not None:
        latest = None if opening else episode.assessments[-1]
        put("assessment.start", a["start"], a["start"], opening)
        if a.get("authorised"):
            put("assessment.authorised", a["authorised"], a["authorised"],
                latest is None or latest.authorised is None)
            put("assessment.factors", list(a.get("factors") or []) or None, a["authorised"],
                latest is None or not latest.factors)
    s, opening = cursor("s47", len(episode.s47s))
    if s is not None:
        latest_s = None if opening else episode.s47s[-1]
        put("s47.start", s["start"], s["start"], opening)
        if s.get("icpc_date"):
            put("s47.icpc_date", s["icpc_date"], s["icpc_date"],
                latest_s is None or latest_s.icpc_date is None)
        not_required = bool(s.get("icpc_not_required"))
        put("s47.icpc_not_required", not_required, s["start"],
            not_required and (latest_s is None or not latest_s.icpc_not_required))
    p, opening = cursor("cp_plans", len(episode.cp_plans))
    if p is not None:
        latest_p = None if opening else episode.cp_plans[-1]
        put("cp_plan.start", p["start"], p["start"], opening)
        put("cp_plan.initial_category", p.get("initial_category"), p["start"],
            latest_p is None or latest_p.initial_category is None)
        put("cp_plan.latest_category", p.get("latest_category"))
        reviews = list(p.get("reviews") or [])
        done = len(latest_p.reviews) if latest_p else 0
        if done < len(reviews):
            put("cp_plan.review", reviews[done], reviews[done], True)
        if p.get("end"):
            put("cp_plan.end", p["end"], p["end"], latest_p is None or latest_p.end is None)
    c, opening = cursor("cin_plans", len(episode.cin_plans))
    if c is not None:
        latest_c = None if opening else episode.cin_plans[-1]
        put("cin_plan.start", c["start"], c["start"], opening)
        if c.get("end"):
            put("cin_plan.end", c["end"], c["end"], latest_c is None or latest_c.end is None)
    closure = target.get("closure")
    if closure:
        pending = episode.closure_date is None
        put("closure.date", closure["date"], closure["date"], pending)
        put("closure.reason", closure["reason"], closure["date"], pending)
    return out


def _prefix(kind: str) -> str:
    return {"assessments": "assessment", "s47": "s47", "cp_plans": "cp_plan",
            "cin_plans": "cin_plan"}[kind]
