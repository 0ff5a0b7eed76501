"""Where a story's ``looked_after:`` stands against the record (see :mod:`.cursor`).

Like the episode's lists: an opening item (``care.start``, ``placement.start``,
``lac_review.date``...) in a form opens the story's next entry when the record has fewer; the
form's other items of that namespace refer to that new entry, or else to the latest recorded.
Dated items are events: pending until recorded, on their own date (``care.start``,
``legal_status.start``, ``placement.start``, ``social_worker.start``, ``lac_review.date``,
``missing.start``/``end``, ``adoption.decision``/``placement_order``/``matched``/``reversed``,
``care_leaver.contact``, ``care.end``, ``uasc.ceased``; ``outcomes.year`` on 31 March of its
year). The other items are facts of their entry: pending with the event of the same form that
opens (or, for ``care.reason_ceased`` and the return interview, ends) it, otherwise given as the
story has them. An end a new start or the end of care brings (a placement ending the day the next
starts) is not an event of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from carepath.engine.record.looked_after import LookedAfter

# namespace -> (story list, opening item's name, the entry's key for it)
LISTS: dict[str, tuple[str, str, str]] = {
    "care": ("periods", "start", "start"),
    "legal_status": ("legal_statuses", "start", "start"),
    "placement": ("placements", "start", "start"),
    "social_worker": ("social_workers", "start", "start"),
    "lac_review": ("reviews", "date", "held"),
    "missing": ("missing", "start", "start"),
    "adoption": ("adoptions", "decision", "decision"),
    "outcomes": ("outcomes", "year", "year"),
    "care_leaver": ("care_leaver_contacts", "contact", "contacted"),
}
# dated items that are events of their own, besides the opening ones
EVENTS: dict[str, tuple[str, ...]] = {
    "care": ("end",), "legal_status": ("end",), "placement": ("end",),
    "social_worker": ("end",), "missing": ("end",),
    "adoption": ("placement_order", "matched", "reversed"),
}
ATTRS = {"social_worker.id": "worker"}
# facts that come with an entry's end, not its start
WITH_END = {"care.reason_ceased": "end", "missing.rhi_offered": "end",
            "missing.rhi_accepted": "end"}
SINGLES = {"uasc.status": "uasc", "mother.status": "mother",
           "mother.first_child_born": "first_child_born"}
OPENING = frozenset(f"{ns}.{name}" for ns, (_, name, _) in LISTS.items())

# rank of an event among those of its day (see cursor.RANK): care starts with the other work
# of the day, reviews and the rest during the day, care ends before the episode closes
RANK = {
    "care.start": 3, "legal_status.start": 4, "placement.start": 4, "social_worker.start": 4,
    "legal_status.end": 4, "placement.end": 4, "social_worker.end": 4,
    "missing.start": 5, "missing.end": 6, "lac_review.date": 6, "adoption.decision": 6,
    "adoption.placement_order": 6, "adoption.matched": 6, "adoption.reversed": 6,
    "uasc.ceased": 6, "outcomes.year": 6, "care.end": 10, "care_leaver.contact": 12,
}


def entry_day(ns: str, entry: Mapping[str, Any]) -> date:
    """The date of the event that opens ``entry``."""
    value = entry[LISTS[ns][2]]
    day: date = date(value, 3, 31) if ns == "outcomes" else value
    return day


def _implied(ns: str, attr: str, story: Mapping[str, Any], i: int) -> bool:
    """Whether the end ``attr`` of entry ``i`` comes with another event (the next entry's start,
    or the end of the period of care)."""
    if attr != "end" or ns not in ("legal_status", "placement", "social_worker"):
        return False
    entries = story[LISTS[ns][0]]
    end = entries[i]["end"]
    if i + 1 < len(entries) and entries[i + 1]["start"] == end:
        return True
    return ns != "social_worker" and any(p.get("end") == end for p in story.get("periods", []))


def looked_after_events(story: Mapping[str, Any], la: LookedAfter,
                        until: date | None = None) -> list[tuple[str, date, tuple[int, ...]]]:
    """Every event of the story's looked-after record missing from ``la`` (item, date, index),
    those before ``until`` only when it is given."""
    out: list[tuple[str, date, tuple[int, ...]]] = []
    for ns, (key, opening, _) in LISTS.items():
        have: list[Any] = getattr(la, _record_list(ns))
        for i, entry in enumerate(story.get(key, [])):
            recorded = have[i] if i < len(have) else None
            if recorded is None:
                out.append((f"{ns}.{opening}", entry_day(ns, entry), (i,)))
            for attr in EVENTS.get(ns, ()):
                if entry.get(attr) is not None and (
                        recorded is None or getattr(recorded, attr) is None) \
                        and not _implied(ns, attr, story, i):
                    out.append((f"{ns}.{attr}", entry[attr], (i,)))
    if story.get("uasc_ceased") is not None and la.uasc_ceased is None:
        out.append(("uasc.ceased", story["uasc_ceased"], ()))
    return [e for e in out if until is None or e[1] < until]


def _record_list(ns: str) -> str:
    return {"care": "periods", "legal_status": "legal_statuses", "placement": "placements",
            "social_worker": "social_workers", "lac_review": "reviews", "missing": "missing",
            "adoption": "adoptions", "outcomes": "outcomes",
            "care_leaver": "care_leaver_contacts"}[ns]


def looked_after_values(story: Mapping[str, Any], la: LookedAfter, items: Collection[str]
                        ) -> list[tuple[str, Any, date | None, bool]]:
    """(item, value, when, pending) for each of ``items`` the story's looked-after record
    gives now."""
    out: list[tuple[str, Any, date | None, bool]] = []

    def put(item: str, value: Any, when: date | None = None, pending: bool = False) -> None:
        if item in items and value is not None:
            out.append((item, value, when, pending))

    namespaces = {item.split(".", 1)[0] for item in items}
    for ns, (key, opening_name, story_key) in LISTS.items():
        if ns not in namespaces:
            continue
        wanted = story.get(key, [])
        have: list[Any] = getattr(la, _record_list(ns))
        opening = f"{ns}.{opening_name}" in items and len(have) < len(wanted)
        index = len(have) if opening else len(have) - 1
        if not 0 <= index < len(wanted):
            continue
        entry = wanted[index]
        latest = None if opening else have[-1]
        day = entry_day(ns, entry)
        put(f"{ns}.{opening_name}", entry[story_key], day, opening)
        events = EVENTS.get(ns, ())
        for item in sorted(i for i in items if i.startswith(ns + ".")):
            name = item.split(".", 1)[1]
            if name == opening_name:
                continue
            attr = ATTRS.get(item, name)
            if name in events:
                if entry.get(attr) is not None:
                    put(item, entry[attr], entry[attr],
                        latest is None or getattr(latest, attr) is None)
            elif item == "placement.reason_changed":
                _reason_changed(put, wanted, have, opening, day)
            elif item in WITH_END:
                end = entry.get(WITH_END[item])
                with_end = f"{ns}.end" in items and end is not None and (
                    latest is None or latest.end is None)
                put(item, entry.get(attr), end if with_end else None, with_end)
            else:
                put(item, entry.get(attr), day if opening else None, opening)
    for item, attr in SINGLES.items():
        put(item, story.get(attr, False if attr == "uasc" else None))
    if story.get("uasc_ceased") is not None:
        put("uasc.ceased", story["uasc_ceased"], story["uasc_ceased"], la.uasc_ceased is None)
    pp = story.get("previous_permanence")
    if pp is not None:
        put("previous_permanence.option", pp["option"])
        put("previous_permanence.la", pp.get("la"))
        if pp.get("year") is not None:
            text = f"{pp['year']:04d}" + "".join(
                f"-{pp[k]:02d}" for k in ("month", "day") if pp.get(k) is not None)
            put("previous_permanence.date", text)
    return out


def _reason_changed(put: Any, wanted: list[Mapping[str, Any]], have: list[Any], opening: bool,
                    day: date) -> None:
    """``placement.reason_changed``: with a new placement, the reason the child left the one it
    ends; otherwise that of the latest placement that has ended."""
    if opening:
        if have:
            put("placement.reason_changed", wanted[len(have) - 1].get("reason_changed"), day,
                True)
        return
    ended = [i for i, p in enumerate(have) if p.end is not None]
    if ended and ended[-1] < len(wanted):
        put("placement.reason_changed", wanted[ended[-1]].get("reason_changed"))
