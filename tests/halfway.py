"""A story stopped half-way: the record of a child as it stood on a day in the middle of its
story (what happened later left out). Used to put cases half-way through a process (the
migration tests and the migration benchmark)."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from carepath.core.errors import CarepathError
from carepath.core.yamlsource import load_yaml
from carepath.engine.stories.story import parse_story


def cut(story: dict[str, Any], day: date) -> dict[str, Any]:
    """The story as it stood on ``day``: what happened later left out."""
    cut = copy.deepcopy(story)
    episodes = [e for e in cut["episodes"] if e["referral"]["date"] <= day]
    for ep in episodes:
        for key in ("assessments", "s47", "cp_plans", "cin_plans"):
            items = [i for i in ep.get(key, []) if i["start"] <= day]
            for item in items:
                for field in ("authorised", "end", "icpc_date"):
                    if item.get(field) is not None and item[field] > day:
                        del item[field]
                if "reviews" in item:
                    item["reviews"] = [r for r in item["reviews"] if r <= day]
            if items:
                ep[key] = items
            else:
                ep.pop(key, None)
        closure = ep.get("closure")
        if closure is not None and closure["date"] > day:
            del ep["closure"]
    cut["episodes"] = episodes
    return cut


def awaiting_decision(story: dict[str, Any]) -> dict[str, Any]:
    """The story on its first day, before anything was decided: the first referral received,
    waiting for its decision (the one point a story whose every event falls on one day, like a
    referral decided with no further action and closed the same day, has). A UPN-unknown reason
    of UN7 ("referral with no further action") cannot have been given before that decision
    (DfE rule 8772): until then the UPN is simply not obtained, UN5."""
    early = copy.deepcopy(story)
    referral = early["episodes"][0]["referral"]
    early["episodes"] = [{"referral": {"date": referral["date"], "source": referral["source"]}}]
    if early["child"].get("upn_unknown") == "UN7":
        early["child"]["upn_unknown"] = "UN5"
    return early


def half_way(path: Path) -> dict[str, Any] | None:
    """The story stopped at a day in its middle, with the child's work still open: the valid
    cut nearest the middle (of the days something happened and the days before them) whose
    last episode is not closed (the middle day itself may fall between two episodes, or after
    a closure); failing that, the first referral waiting for
    its decision; failing that, any valid cut. None if no cut is a valid story."""
    story = parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))
    first = story["episodes"][0]["referral"]["date"]
    events = {d for d in dates_in(story) if d > first}
    # each day something happened, and the day before it (an assessment started the day it
    # was referred and finished the day the case closed is open only in between)
    dates = sorted(events | {d - timedelta(days=1) for d in events})
    middle_out = dates[len(dates) // 2:] + dates[: len(dates) // 2][::-1]
    valid = []
    for candidate in [*(cut(story, day) for day in middle_out), awaiting_decision(story)]:
        try:
            valid.append(parse_story(candidate, str(path)))
        except CarepathError:
            continue
    still_open = [s for s in valid if "closure" not in s["episodes"][-1]]
    return (still_open or valid or [None])[0]


def dates_in(value: Any) -> list[date]:
    """Every date in a story (or any part of one), in the order they are written."""
    if isinstance(value, date):
        return [value]
    if isinstance(value, dict):
        return [d for v in value.values() for d in dates_in(v)]
    if isinstance(value, list):
        return [d for v in value for d in dates_in(v)]
    return []
