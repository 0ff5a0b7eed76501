"""A case's chronology: its audit trail told as a caseworker reads it, newest first.

Every front end shows the same chronology (the web app's case file, the JSON API), so the
wording lives here. Values a worker typed into a form are never repeated (they are on the
record and in the audit trail); record changes are named by their item, with dates and codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from carepath.core.record_items import RECORD_ITEMS
from carepath.service.types import HistoryEntry, JsonObject, JsonValue

# Record items whose change is a statutory milestone: flagged as significant.
SIGNIFICANT_ITEMS = frozenset({
    "referral.date", "referral.nfa", "assessment.start", "assessment.authorised", "s47.start",
    "s47.icpc_date", "s47.icpc_not_required", "cp_plan.start", "cp_plan.end",
    "cin_plan.start", "cin_plan.end", "closure.date", "episode.emergency_protection",
})
SIGNIFICANT_KINDS = frozenset({
    "case.opened", "action.taken", "case.worker_changed", "child.details_changed",
    "episode.closed", "case.restricted", "case.unrestricted", "case.access_granted",
})
# Bookkeeping the chronology leaves out unless asked for everything.
QUIET_KINDS = frozenset({"task.opened", "process.completed", "case.viewed"})

FILTERS: dict[str, str] = {
    "all": "Everything",
    "significant": "Significant events",
    "record": "Changes to the record",
    "tasks": "Tasks",
    "access": "Who viewed the case",
}


@dataclass(frozen=True)
class ChronologyEntry:
    seq: int
    at: datetime
    actor: str
    kind: str
    summary: str
    significant: bool
    details: tuple[str, ...] = ()

    def as_json(self) -> JsonObject:
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
                "kind": self.kind, "summary": self.summary, "significant": self.significant,
                "details": list(self.details)}


def _text(value: JsonValue) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) if value else "none"
    return str(value)


def _item_title(item: str) -> str:
    known = RECORD_ITEMS.get(item)
    return known.title if known and known.title else item


def _change_lines(changes: JsonValue) -> tuple[list[str], bool]:
    lines: list[str] = []
    significant = False
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, Mapping):
            continue
        item = str(change.get("item", ""))
        significant = significant or item in SIGNIFICANT_ITEMS
        lines.append(f"{_item_title(item)}: {_text(change.get('value'))}")
    return lines, significant


def describe(entry: HistoryEntry, process_titles: Mapping[str, str]) -> ChronologyEntry:
    """One audit event in words."""
    p = entry.payload
    kind = entry.kind
    details: list[str] = []
    significant = kind in SIGNIFICANT_KINDS

    def process() -> str:
        pid = str(p.get("process", ""))
        return process_titles.get(pid, pid)

    if kind == "case.opened":
        summary = f"Case opened on {p.get('pack')}"
        referral = p.get("referral")
        if isinstance(referral, Mapping) and referral.get("date"):
            details.append(f"Referral received {referral.get('date')}")
    elif kind == "task.completed":
        summary = f"Completed: {p.get('title')}"
    elif kind == "task.opened":
        due = p.get("due")
        summary = f"New task: {p.get('title')}" + (f" (due {due})" if due else "")
    elif kind == "task.assigned":
        to = p.get("assignee") or p.get("to")
        summary = f"Task assigned to {to}" if to else "Task returned to the team"
    elif kind == "record.changed":
        details, significant = _change_lines(p.get("changes"))
        summary = "Record updated"
    elif kind == "action.taken":
        summary = f"Action: {p.get('title')}"
    elif kind == "process.started":
        summary = f"Started: {process()}"
    elif kind == "process.completed":
        summary = f"Finished: {process()}"
    elif kind == "process.cancelled":
        summary = f"Stopped: {process()}"
        if p.get("reason"):
            details.append(str(p.get("reason")))
    elif kind == "tasks.cancelled":
        summary = f"{p.get('count')} open task(s) cancelled"
        if p.get("reason"):
            details.append(str(p.get("reason")))
    elif kind == "case.worker_changed":
        summary = f"Allocated worker changed to {p.get('worker')}"
    elif kind == "child.details_changed":
        summary = "The child's identifying details changed"
        details, _ = _change_lines(p.get("changes"))
    elif kind == "timer.fired":
        summary = "A deadline passed"
    elif kind == "case.viewed":
        summary = "Viewed the case file"
    elif kind == "episode.closed":
        summary = "Episode closed"
    else:
        summary = kind.replace(".", " ").replace("_", " ").capitalize()
    return ChronologyEntry(entry.seq, entry.at, entry.actor, kind, summary, significant,
                           tuple(details))


def _shown(entry: ChronologyEntry, show: str) -> bool:
    if show == "all":
        return True
    if show == "significant":
        return entry.significant
    if show == "record":
        return entry.kind in ("record.changed", "child.details_changed")
    if show == "tasks":
        return entry.kind.startswith("task")
    if show == "access":
        return entry.kind == "case.viewed"
    # the default: everything but bookkeeping
    return entry.kind not in QUIET_KINDS


def chronology(history: Iterable[HistoryEntry], process_titles: Mapping[str, str],
               show: str | None = None) -> list[ChronologyEntry]:
    """The case's events in words, newest first, filtered by ``show`` (a key of
    :data:`FILTERS`, or None for everything but bookkeeping)."""
    entries = [describe(h, process_titles) for h in history]
    return [e for e in reversed(entries) if _shown(e, show or "")]
