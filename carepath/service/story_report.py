"""What the story runner never recorded: each story item's path in the story and why.

:func:`unrecorded` compares a story with the record the runner left; the runner gives the
reasons it knows (:func:`why_unrecorded`) by path (:func:`event_path`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from carepath.engine.record.case_record import CaseRecord, record_to_story, story_to_record
from carepath.engine.stories.cursor import PendingEvent
from carepath.engine.stories.lac_cursor import LISTS as LAC_LISTS
from carepath.service.types import TaskView


@dataclass(frozen=True)
class Unrecorded:
    """A story item the runner never recorded: where it is in the story, and why."""

    path: str  # e.g. "episodes[0].s47[0]" or "episodes[0].assessments[1].authorised"
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"



_LISTS = {"assessment": "assessments", "s47": "s47", "cp_plan": "cp_plans",
          "cin_plan": "cin_plans"}


def event_path(episode: int, event: PendingEvent) -> str:
    """Where a pending event is in the story: ``episodes[0].s47[0]`` for the enquiry a
    strategy discussion starts, ``episodes[0].cp_plans[0].reviews[1]``,
    ``looked_after.placements[1]`` for a placement, ``looked_after.periods[0].end``..."""
    base = f"episodes[{episode}]"
    kind, _, key = event.item.partition(".")
    if kind in LAC_LISTS:
        list_key, opening, _ = LAC_LISTS[kind]
        entry = f"looked_after.{list_key}[{event.index[0]}]"
        return entry if key == opening else f"{entry}.{key}"
    if kind == "uasc":
        return "looked_after.uasc_ceased" if key == "ceased" else "looked_after.uasc"
    if kind == "referral":
        return f"{base}.referral"
    if kind == "episode":
        return f"{base}.{key}"
    if kind == "closure":
        return f"{base}.closure"
    entry = f"{base}.{_LISTS[kind]}[{event.index[0]}]"
    if key == "start":
        return entry
    if key == "review":
        return f"{entry}.reviews[{event.index[1]}]"
    return f"{entry}.{key}"


def why_unrecorded(first: PendingEvent, tasks: Sequence[TaskView],
         blocked: Sequence[tuple[TaskView, list[str]]]) -> str:
    day = first.when.isoformat()
    if blocked:
        task, missing = blocked[0]
        return (f"on {day} no task or action could record it: task '{task.title}' needs "
                f"{', '.join(missing)}, which the story does not give")
    if tasks:
        titles = ", ".join(f"'{t.title}'" for t in tasks)
        return (f"on {day} no task or action could record it (open tasks: {titles}; no "
                "available action starts work that records it)")
    return f"on {day} no task or action could record it (no task open, no action available)"


def _differences(want: Any, got: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    """Each place where ``got`` (the record, in the story format) differs from ``want``."""
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        for key in [*want, *(k for k in got if k not in want)]:
            _differences(want.get(key), got.get(key), f"{path}.{key}" if path else key, out)
        return
    if isinstance(want, list) and got is None:
        got = []  # empty lists are left out of the story format
    elif isinstance(got, list) and want is None:
        want = []
    listed = isinstance(want, list) and isinstance(got, list)
    if listed and any(isinstance(v, Mapping | date) for v in [*want, *got]):
        for i in range(max(len(want), len(got))):
            _differences(want[i] if i < len(want) else None,
                         got[i] if i < len(got) else None, f"{path}[{i}]", out)
        return
    if want != got:
        out.append((path, want, got))


def _reason_for(path: str, reasons: Mapping[str, str]) -> str | None:
    if path in reasons:
        return reasons[path]
    for known, reason in reasons.items():
        if path.startswith(known + ".") or path.startswith(known + "["):
            return reason
    parent = path.rsplit(".", 1)[0]
    for known, reason in reasons.items():
        if known.startswith(parent + "."):
            return reason
    return None


def unrecorded(story: Mapping[str, Any], record: CaseRecord, reasons: Mapping[str, str],
               default: str) -> list[Unrecorded]:
    """Every item of ``story``'s episodes that ``record`` does not hold as the story says (and
    anything the record has that the story does not), with why: ``reasons`` by path, else
    ``default``."""
    want_story = record_to_story(story_to_record(story))
    got_story = record_to_story(record)
    found: list[tuple[str, Any, Any]] = []
    for key in ("episodes", "looked_after"):
        want, got = want_story.get(key), got_story.get(key)
        if want != got:
            _differences(want, got, key, found)
    if not found:
        return []
    out: list[Unrecorded] = []
    for path, wanted, have in found:
        reason = _reason_for(path, reasons)
        if wanted is None:
            reason = f"recorded ({show_value(have)}), but the story does not have it"
        elif reason is None:
            reason = default if have is None else \
                f"recorded as {show_value(have)}, the story says {show_value(wanted)}"
        out.append(Unrecorded(path, reason))
    return out


def show_value(value: Any) -> str:
    """A story value as a person reads it (dates as YYYY-MM-DD, text quoted)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)

