"""The parts of an episode in a story, each checked against the DfE CIN census rules.

Assessments, section 47 enquiries, child protection and child in need plans and the closure of one
episode, and the order of the episodes, must make sense together as a case record. The messages
give the numbers of the DfE rules (of type ERROR) they enforce.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from carepath.engine.record.model import in_code_order
from carepath.engine.stories.reader import StoryReader

_ASSESSMENT_KEYS = ("start", "authorised", "factors")
_S47_KEYS = ("start", "icpc_date", "icpc_not_required", "icpc_target")
_CP_PLAN_KEYS = (
    "start",
    "initial_category",
    "latest_category",
    "reviews",
    "end",
    "previous_plans",
)
_CIN_PLAN_KEYS = ("start", "end")
_CLOSURE_KEYS = ("date", "reason")


class EpisodeReader(StoryReader):
    """Reads the parts of each episode of a story, and checks the episodes follow each other."""

    def assessments(self, node: Mapping[str, Any], referral: date) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in self.sequence(node, "assessments", "'assessments'"):
            a = self.mapping(item, "an assessment", _ASSESSMENT_KEYS, ("start",), node,
                             "assessments")
            start = self.day(a, "start", "the assessment start date")
            if start < referral:
                raise self.fail("an assessment cannot start before the referral (DfE rule 1103)",
                                a, "start")
            if out:
                before = out[-1]
                if "authorised" not in before:
                    raise self.fail(
                        "an assessment cannot start while the one before it is still open "
                        "(not authorised) (DfE rule 8896)",
                        a,
                        "start",
                    )
                if start < before["start"]:
                    raise self.fail("assessments must be listed in the order they started",
                                    a, "start")
            entry: dict[str, Any] = {"start": start}
            authorised = self.opt_day(a, "authorised", "the assessment authorisation date")
            if authorised is not None:
                if authorised < start:
                    raise self.fail("an assessment cannot be authorised before it started "
                                    "(DfE rule 8608)", a, "authorised")
                entry["authorised"] = authorised
            factors = self.codes(a, "factors", "assessment_factors", "'factors'")
            if factors:
                if authorised is None:
                    raise self.fail("factors can only be given for an authorised assessment "
                                    "(DfE rule 8614)", a, "factors")
                if "21" in factors and len(factors) > 1:
                    raise self.fail("factor 21 (no factors identified) must be the only factor "
                                    "(DfE rule 8869)", a, "factors")
                entry["factors"] = in_code_order(factors, "assessment_factors")
            out.append(entry)
        return out

    def s47s(self, node: Mapping[str, Any], referral: date) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in self.sequence(node, "s47", "'s47'"):
            s = self.mapping(item, "a section 47 enquiry", _S47_KEYS, ("start",), node, "s47")
            start = self.day(s, "start", "the section 47 start date")
            if start < referral:
                raise self.fail("a section 47 enquiry cannot start before the referral "
                                "(DfE rule 2889)", s, "start")
            if out:
                before = out[-1]
                if "icpc_date" not in before and "icpc_not_required" not in before:
                    raise self.fail(
                        "a section 47 enquiry cannot start while the one before it is still open "
                        "(no 'icpc_date' or 'icpc_not_required') (DfE rules 8839, 8890)",
                        s,
                        "start",
                    )
                if start < before["start"]:
                    raise self.fail("section 47 enquiries must be listed in the order they "
                                    "started", s, "start")
            entry: dict[str, Any] = {"start": start}
            icpc = self.opt_day(s, "icpc_date", "the initial child protection conference date")
            not_required = self.yesno(s, "icpc_not_required", "'icpc_not_required'")
            if icpc is not None and not_required:
                raise self.fail("a section 47 enquiry cannot have both 'icpc_date' and "
                                "'icpc_not_required: true'", s, "icpc_not_required")
            if icpc is not None:
                if icpc < start:
                    raise self.fail("the initial child protection conference cannot be before "
                                    "the strategy discussion (DfE rule 8615)", s, "icpc_date")
                if icpc.weekday() >= 5:
                    raise self.fail("the initial child protection conference cannot be on a "
                                    "weekend (DfE rule 8875)", s, "icpc_date")
                entry["icpc_date"] = icpc
            if not_required:
                entry["icpc_not_required"] = True
            if s.get("icpc_target") is not None:  # computed by the engine: checked, not kept
                self.day(s, "icpc_target", "'icpc_target'")
            out.append(entry)
        return out

    def cp_plans(self, node: Mapping[str, Any], referral: date,
                 s47s: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        icpcs = {s["icpc_date"] for s in s47s if "icpc_date" in s}
        for item in self.sequence(node, "cp_plans", "'cp_plans'"):
            p = self.mapping(item, "a child protection plan", _CP_PLAN_KEYS,
                             ("start", "initial_category", "latest_category"), node, "cp_plans")
            start = self.day(p, "start", "the child protection plan start date")
            if start < referral:
                raise self.fail("a child protection plan cannot start before the referral "
                                "(DfE rule 1105)", p, "start")
            if start not in icpcs:
                raise self.fail(
                    "a child protection plan must start on the date of an initial child "
                    "protection conference of this episode ('icpc_date' of a section 47 enquiry) "
                    "(DfE rule 2885)",
                    p,
                    "start",
                )
            if out:
                before = out[-1]
                if "end" not in before:
                    raise self.fail("a child protection plan cannot start while the one before "
                                    "it is still open (DfE rules 8935, 8940)", p, "start")
                if start <= before["end"]:
                    raise self.fail("child protection plans cannot overlap: this one starts on "
                                    "or before the previous one ended (DfE rule 8940)", p, "start")
            entry: dict[str, Any] = {
                "start": start,
                "initial_category": self.code(p, "initial_category", "abuse_category",
                                              "'initial_category'"),
                "latest_category": self.code(p, "latest_category", "abuse_category",
                                             "'latest_category'"),
            }
            reviews: list[date] = []
            for r in self.sequence(p, "reviews", "'reviews'"):
                review = self.day_value(r, p, "reviews", "a review date")
                if review <= start:
                    raise self.fail("a review must be after the day the plan started "
                                    "(DfE rule 8841)", p, "reviews")
                if reviews and review <= reviews[-1]:
                    raise self.fail("reviews must be listed in date order, each on a different "
                                    "day", p, "reviews")
                reviews.append(review)
            if reviews:
                entry["reviews"] = reviews
            end = self.opt_day(p, "end", "the child protection plan end date")
            if end is not None:
                if end <= start:
                    raise self.fail("a child protection plan must end after the day it started "
                                    "(DfE rules 8840, 8925)", p, "end")
                if reviews and reviews[-1] > end:
                    raise self.fail("a review cannot be after the plan ended", p, "reviews")
                entry["end"] = end
            if p.get("previous_plans") is not None:  # computed by the engine: checked, not kept
                prev = p["previous_plans"]
                if isinstance(prev, bool) or not isinstance(prev, int) or prev < 0:
                    raise self.fail("'previous_plans' must be a whole number", p,
                                    "previous_plans")
            out.append(entry)
        return out

    def cin_plans(self, node: Mapping[str, Any], referral: date,
                  plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in self.sequence(node, "cin_plans", "'cin_plans'"):
            c = self.mapping(item, "a child in need plan", _CIN_PLAN_KEYS, ("start",), node,
                             "cin_plans")
            start = self.day(c, "start", "the child in need plan start date")
            if start < referral:
                raise self.fail("a child in need plan cannot start before the referral "
                                "(DfE rule 4015)", c, "start")
            if out:
                before = out[-1]
                if "end" not in before:
                    raise self.fail("a child in need plan cannot start while the one before it "
                                    "is still open (DfE rule 4004)", c, "start")
                if start <= before["end"]:
                    raise self.fail("child in need plans cannot overlap: this one starts on or "
                                    "before the previous one ended (DfE rule 4014)", c, "start")
            entry: dict[str, Any] = {"start": start}
            end = self.opt_day(c, "end", "the child in need plan end date")
            if end is not None:
                if end < start:
                    raise self.fail("a child in need plan cannot end before it started "
                                    "(DfE rule 4011)", c, "end")
                entry["end"] = end
            for plan in plans:
                # the census allows a CIN plan to start the day a CP plan ends and vice versa
                if _starts_within(start, plan["start"], plan.get("end")) or _starts_within(
                    plan["start"], start, end
                ):
                    raise self.fail(
                        "a child in need plan cannot run at the same time as a child protection "
                        f"plan (the one starting {plan['start'].isoformat()}) "
                        "(DfE rules 4001, 4016, 4017)",
                        c,
                        "start",
                    )
                for review in plan.get("reviews", []):
                    if start <= review and (end is None or review < end) and \
                            review != plan.get("end"):
                        raise self.fail(
                            f"a child protection review ({review.isoformat()}) cannot be held "
                            "while a child in need plan is open (DfE rule 4003)",
                            c,
                            "start",
                        )
            out.append(entry)
        return out

    def emergency_protection(self, node: Mapping[str, Any], referral: date) -> list[date]:
        """Days the child was made subject to an emergency protection order or taken into police
        protection during the episode: after the referral, in date order."""
        out: list[date] = []
        for value in self.sequence(node, "emergency_protection", "'emergency_protection'"):
            day = self.day_value(value, node, "emergency_protection",
                                 "an emergency protection date")
            if day < referral:
                raise self.fail("an emergency protection order or police protection recorded on "
                                "an episode cannot be before its referral", node,
                                "emergency_protection")
            if out and day <= out[-1]:
                raise self.fail("'emergency_protection' dates must be in date order, each on a "
                                "different day", node, "emergency_protection")
            out.append(day)
        return out

    def closure(self, node: Mapping[str, Any], episode: dict[str, Any]) -> dict[str, Any]:
        c = self.mapping(node["closure"], "'closure'", _CLOSURE_KEYS, ("date", "reason"), node,
                         "closure")
        closed = self.day(c, "date", "the closure date")
        reason = self.code(c, "reason", "closure_reason", "the reason for closure")
        referral = episode["referral"]["date"]
        if closed < referral:
            raise self.fail("an episode cannot close before its referral (DfE rule 8630)",
                            c, "date")
        for what, day in _activity(episode):
            if day > closed:
                raise self.fail(f"{what} ({day.isoformat()}) is after the episode closed "
                                "(DfE rule 8565)", c, "date")
        if any("authorised" not in a for a in episode.get("assessments", [])):
            raise self.fail("a closed episode cannot have an assessment still open "
                            "(DfE rule 8867)", c, "date")
        if any("icpc_date" not in s and "icpc_not_required" not in s
               for s in episode.get("s47", [])):
            raise self.fail("a closed episode cannot have a section 47 enquiry without "
                            "'icpc_date' or 'icpc_not_required' (DfE rule 8868)", c, "date")
        for key, what in (("cp_plans", "child protection plan"), ("cin_plans",
                                                                   "child in need plan")):
            if any("end" not in p for p in episode.get(key, [])):
                raise self.fail(f"a closed episode cannot have a {what} still open: give its "
                                "'end'", c, "date")
        if reason in ("RC8", "RC9"):
            for key in ("s47", "cp_plans", "cin_plans"):
                if episode.get(key):
                    raise self.fail(f"reason {reason} (closed after assessment) cannot be used "
                                    f"when the episode has '{key}' (DfE rule 2990)", c, "reason")
        return {"date": closed, "reason": reason}

    def follows(self, previous: dict[str, Any], episode: dict[str, Any], node: Any) -> None:
        referral = episode["referral"]["date"]
        if "closure" in previous:
            if referral < previous["closure"]["date"]:
                raise self.fail(
                    "episodes cannot overlap: this referral is before the previous episode "
                    f"closed ({previous['closure']['date'].isoformat()}) (DfE rule 8820)",
                    node,
                    "referral",
                )
        elif not previous["referral"]["nfa"]:
            raise self.fail(
                "only the last episode can be open: give the previous episode a 'closure' "
                "(DfE rules 8815, 8816)",
                node,
                "referral",
            )
        elif referral < previous["referral"]["date"]:
            raise self.fail("episodes must be listed in date order", node, "referral")

    def child_and_episodes(self, child: dict[str, Any], node: Mapping[str, Any],
                           episodes: list[dict[str, Any]], episodes_node: Any) -> None:
        if child.get("upn_unknown") == "UN7" and not all(e["referral"]["nfa"] for e in episodes):
            raise self.fail(
                "'upn_unknown: UN7' (referral with no further action) needs every episode to be "
                "'nfa: true' (DfE rule 8772)",
                node,
                "upn_unknown",
            )
        born = child.get("birth_date") or child.get("expected_birth_date")
        assert isinstance(born, date)
        for e, e_node in zip(episodes, episodes_node, strict=True):
            if e["referral"]["date"] < born - timedelta(days=280):
                raise self.fail(
                    "a referral cannot be more than 40 weeks before the child's (expected) date "
                    "of birth (DfE rule 8606)",
                    e_node,
                    "referral",
                )


def _starts_within(day: date, start: date, end: date | None) -> bool:
    return start <= day and (end is None or day < end)


def _activity(episode: dict[str, Any]) -> list[tuple[str, date]]:
    dates: list[tuple[str, date]] = []
    for a in episode.get("assessments", []):
        dates.append(("an assessment start", a["start"]))
        if "authorised" in a:
            dates.append(("an assessment authorisation", a["authorised"]))
    for s in episode.get("s47", []):
        dates.append(("a section 47 start", s["start"]))
        if "icpc_date" in s:
            dates.append(("an initial child protection conference", s["icpc_date"]))
    for p in episode.get("cp_plans", []):
        dates.append(("a child protection plan start", p["start"]))
        dates += [("a child protection review", r) for r in p.get("reviews", [])]
        if "end" in p:
            dates.append(("a child protection plan end", p["end"]))
    for c in episode.get("cin_plans", []):
        dates.append(("a child in need plan start", c["start"]))
        if "end" in c:
            dates.append(("a child in need plan end", c["end"]))
    dates += [("an emergency protection order or police protection", d)
              for d in episode.get("emergency_protection", [])]
    return dates
