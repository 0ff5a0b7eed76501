"""A story stopped half-way: the record of a child as it stood on a day in the middle of its
story (what happened later left out). Used to put cases half-way through a process (the
migration tests and the migration benchmark)."""

from __future__ import annotations

import copy
from datetime import date
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


def half_way(path: Path) -> dict[str, Any] | None:
    story = parse_story(load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))
    first = story["episodes"][0]["referral"]["date"]
    dates = sorted(d for d in _dates(story) if d > first)
    for day in dates[len(dates) // 2:] + dates[: len(dates) // 2][::-1]:
        try:
            return parse_story(cut(story, day), str(path))
        except CarepathError:
            continue
    return None


def _dates(value: Any) -> list[date]:
    if isinstance(value, date):
        return [value]
    if isinstance(value, dict):
        return [d for v in value.values() for d in _dates(v)]
    if isinstance(value, list):
        return [d for v in value for d in _dates(v)]
    return []
