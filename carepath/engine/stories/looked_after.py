"""The ``looked_after:`` part of a story: the child's looked-after record (``docs/stories.md``).

It is the child's, not an episode's: periods of care, legal statuses, placements, reviews... as
:class:`~carepath.engine.record.looked_after.LookedAfter` holds them, with the same names. The
reader checks keys, types and SSDA903 codes, that each list is in date order, and then the record
as the engine checks it (:func:`check_looked_after`, and the fit of legal statuses and placements
to the periods of care that deriving the 903 episodes needs); every problem names the file and
line. The normalised form leaves out empty lists, missing values and ``uasc: false``; it is
exactly what :func:`~carepath.engine.record.looked_after.looked_after_to_story` gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from carepath.core.errors import RecordError
from carepath.engine.record.lac_episodes import derive_episodes
from carepath.engine.record.looked_after import check_looked_after, looked_after_from_json
from carepath.engine.stories.reader import StoryReader

DATE = "date"
TEXT = "text"
BOOL = "bool"
INT = "int"

# story key -> (what one entry is called, {key: kind or codelist}, required keys, order key)
LISTS: dict[str, tuple[str, dict[str, str], tuple[str, ...], str]] = {
    "periods": ("a period of care", {
        "start": DATE, "need": "lac_category_of_need", "end": DATE,
        "reason_ceased": "lac_reason_care_ceased"}, ("start",), "start"),
    "legal_statuses": ("a legal status", {
        "code": "lac_legal_status", "start": DATE, "end": DATE}, ("code", "start"), "start"),
    "placements": ("a placement", {
        "type": "lac_placement_type", "start": DATE, "end": DATE,
        "provider": "lac_placement_provider", "carer": TEXT, "urn": TEXT, "postcode": TEXT,
        "home_postcode": TEXT, "reason_changed": "lac_reason_place_change"},
        ("type", "start"), "start"),
    "reviews": ("a looked-after review", {
        "held": DATE, "participation": "lac_review_participation"}, ("held",), "held"),
    "missing": ("a missing episode", {
        "kind": "lac_missing_type", "start": DATE, "end": DATE, "rhi_offered": BOOL,
        "rhi_accepted": BOOL}, ("kind", "start"), "start"),
    "adoptions": ("an adoption decision", {
        "decision": DATE, "reversed": DATE, "reversed_reason": "lac_reason_placed_ceased",
        "placement_order": DATE, "matched": DATE, "adopters": INT,
        "adopters_sex": "lac_adopter_sex", "adopters_legal_status": "lac_adopter_legal_status",
        "by_foster_carer": BOOL}, ("decision",), "decision"),
    "outcomes": ("a year of outcomes", {
        "year": INT, "sdq_score": INT, "sdq_reason": "lac_sdq_reason", "convicted": BOOL,
        "health_check": BOOL, "immunisations": BOOL, "teeth_check": BOOL,
        "health_assessment": BOOL, "substance_misuse": BOOL, "intervention_received": BOOL,
        "intervention_offered": BOOL}, ("year",), "year"),
    "care_leaver_contacts": ("a contact with the care leaver", {
        "contacted": DATE, "in_touch": "lac_in_touch", "activity": "lac_care_leaver_activity",
        "accommodation": "lac_care_leaver_accommodation", "personal_adviser": TEXT},
        ("contacted", "in_touch"), "contacted"),
    "social_workers": ("a social worker allocation", {
        "worker": TEXT, "start": DATE, "end": DATE, "reason": "lac_sw_change_reason"},
        ("worker", "start"), "start"),
}
PREVIOUS_PERMANENCE = {"option": "lac_previous_permanence", "year": INT, "month": INT,
                       "day": INT, "la": TEXT}
SINGLES = {"uasc": BOOL, "uasc_ceased": DATE, "mother": BOOL, "first_child_born": DATE}
KEYS = (*LISTS, "previous_permanence", *SINGLES)
# lists the engine keeps in date order (the others are in the order they were recorded)
ORDERED = ("periods", "legal_statuses", "placements", "reviews", "outcomes", "social_workers")


class LookedAfterReader(StoryReader):
    """Reads the ``looked_after`` key of a story."""

    def looked_after(self, top: Mapping[str, Any]) -> dict[str, Any]:
        """The normalised looked-after record; empty when the story has none."""
        if top.get("looked_after") is None:
            return {}
        node = self.mapping(top["looked_after"], "'looked_after'", KEYS, (), top, "looked_after")
        out: dict[str, Any] = {}
        for key, (what, kinds, required, order) in LISTS.items():
            entries = [self.entry(n, what, kinds, required, node, key)
                       for n in self.sequence(node, key, f"'looked_after.{key}'")]
            for before, after in zip(entries, entries[1:] if key in ORDERED else [],
                                     strict=False):
                if after[order] < before[order]:
                    raise self.fail(f"'looked_after.{key}' must be in date order "
                                    f"({what} of {after[order]} after one of {before[order]})",
                                    node, key)
            if entries:
                out[key] = entries
        if node.get("previous_permanence") is not None:
            out["previous_permanence"] = self.entry(
                node["previous_permanence"], "'previous_permanence'", PREVIOUS_PERMANENCE,
                ("option",), node, "previous_permanence")
        for key, kind in SINGLES.items():
            if node.get(key) is not None:
                out[key] = self.scalar(node, key, kind, f"'looked_after.{key}'")
        if out.get("uasc") is False:
            del out["uasc"]
        self.check(out, node)
        return out

    def entry(self, value: Any, what: str, kinds: Mapping[str, str], required: tuple[str, ...],
              parent: Any, key: str) -> dict[str, Any]:
        node = self.mapping(value, what, tuple(kinds), required, parent, key)
        return {k: self.scalar(node, k, kind, f"'{k}' of {what}")
                for k, kind in kinds.items() if node.get(k) is not None}

    def scalar(self, node: Mapping[str, Any], key: str, kind: str, what: str) -> Any:
        value = node[key]
        if kind == DATE:
            return self.day(node, key, what)
        if kind == TEXT:
            text = self.text(node, key, what)
            if not text:
                raise self.fail(f"{what} must not be empty", node, key)
            return text
        if kind == BOOL:
            if not isinstance(value, bool):
                raise self.fail(f"{what} must be true or false (not {value!r})", node, key)
            return value
        if kind == INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(f"{what} must be a whole number (not {value!r})", node, key)
            return value
        return self.code(node, key, kind, what)

    def check(self, out: dict[str, Any], node: Mapping[str, Any]) -> None:
        """The record as the engine checks it: codes that go together, spans, overlaps, and
        legal statuses and placements within the periods of care."""
        periods: list[dict[str, Any]] = out.get("periods", [])
        for before, after in zip(periods, periods[1:], strict=False):
            if before.get("end") is None or after["start"] <= before["end"]:
                raise self.fail(f"periods of care overlap: one starting {before['start']} and "
                                f"one starting {after['start']} (a new period starts after the "
                                "last one ended; DfE rule 431)", node, "periods")
        record = looked_after_from_json(out)
        try:
            check_looked_after(record)
            derive_episodes(record)
        except RecordError as exc:
            raise self.fail(f"'looked_after': {exc}", node) from None
        for item, day, end_day in _dated(out):
            if not any(p["start"] <= day and (p.get("end") is None or day < p["end"]
                                              or (end_day and day == p["end"]))
                       for p in periods):
                raise self.fail(f"'looked_after': {item} on {day.isoformat()} is not while the "
                                "child is looked after (a period of care)", node)


def _dated(out: Mapping[str, Any]) -> list[tuple[str, date, bool]]:
    """What is recorded only while the child is looked after: its date, and whether it may be
    on the day care ends (a review may)."""
    found: list[tuple[str, date, bool]] = []
    for kind, what, key in (("reviews", "a looked-after review", "held"),
                            ("missing", "a missing episode", "start"),
                            ("legal_statuses", "a legal status", "start"),
                            ("placements", "a placement", "start")):
        found.extend((what, e[key], kind == "reviews") for e in out.get(kind, []))
    return found
