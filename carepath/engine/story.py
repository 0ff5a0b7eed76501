"""The story format: one child's case written as data (``docs/stories.md``).

:func:`parse_story` checks a story (loaded with ``carepath.engine.yamlsource.load_yaml``, so every
problem names its file and line) and returns it normalised: codes as text, dates as ``date``,
optional keys left out when empty. That normalised form is exactly what
``carepath.engine.record.record_to_story`` produces, so a story and its record round-trip.

Besides types and codes, a story must make sense as a case record: the DfE CIN census rules of type
ERROR that concern one child (numbers given in the messages) are checked, except those that depend
on the census year. Rules of type QUERY are not: a story may describe an unusual case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from carepath.engine.codes import STATUTORY_CODELISTS
from carepath.engine.errors import StoryError
from carepath.engine.record import in_code_order
from carepath.engine.yamlsource import SourceDict, SourceList

__all__ = ["StoryFormatError", "parse_story", "upn_check_letter"]


class StoryFormatError(StoryError):
    """A story is malformed. ``file`` and ``line`` say where; ``detail`` is the bare message."""

    def __init__(self, message: str, file: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.detail = message
        super().__init__((f"{file}:{line}: " if line else f"{file}: ") + message)


_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_RE = re.compile(r"^[A-Z]\d{11}[0-9A-HJ-NP-RT-Z]$")
_LA_CHILD_ID_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")

_TOP_KEYS = ("child", "episodes")
_CHILD_KEYS = (
    "la_child_id",
    "upn",
    "upn_unknown",
    "birth_date",
    "expected_birth_date",
    "sex",
    "ethnicity",
    "disabilities",
)
_EPISODE_KEYS = (
    "referral",
    "primary_need",
    "assessments",
    "s47",
    "cp_plans",
    "cin_plans",
    "closure",
)
_REFERRAL_KEYS = ("date", "source", "nfa")
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


def upn_check_letter(body: str) -> str:
    """The check letter (character 1) of a unique pupil number from its other 12 characters.

    Characters 2-13 are weighted 2..13; a letter in position 13 (a temporary UPN) counts as its
    place in the check alphabet. The sum modulo 23 indexes ``ABCDEFGHJKLMNPQRTUVWXYZ``.
    """
    total = 0
    for weight, ch in enumerate(body, start=2):
        total += weight * (int(ch) if ch.isdigit() else _UPN_LETTERS.index(ch))
    return _UPN_LETTERS[total % 23]


def upn_problem(upn: str) -> str | None:
    if not _UPN_RE.match(upn):
        return (
            f"'{upn}' is not a unique pupil number: a capital letter, 11 digits and a final digit "
            "or letter (not I, O or S)"
        )
    if upn_check_letter(upn[1:]) != upn[0]:
        return f"'{upn}' has the wrong check letter: expected {upn_check_letter(upn[1:])} (DfE rule 1510)"
    return None


class _Reader:
    """Reads one story file, raising :class:`StoryFormatError` at the first problem."""

    def __init__(self, file: str) -> None:
        self.file = file

    # -- where ---------------------------------------------------------------------------

    @staticmethod
    def line(node: Any, key: str | None = None) -> int | None:
        if isinstance(node, SourceDict):
            line = node.line_of(key) if key is not None else node.line
            return line or None
        if isinstance(node, SourceList):
            return node.line or None
        return None

    def fail(self, message: str, node: Any = None, key: str | None = None) -> StoryFormatError:
        return StoryFormatError(message, self.file, self.line(node, key))

    # -- shapes --------------------------------------------------------------------------

    def mapping(
        self,
        value: Any,
        what: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
        parent: Any = None,
        key: str | None = None,
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            where = (parent, key) if self.line(parent, key) else (value, None)
            raise self.fail(f"{what} must be a mapping of keys to values", *where)
        for k in value:
            if k not in allowed:
                raise self.fail(
                    f"unknown key '{k}' in {what} (expected: {', '.join(allowed)})", value, str(k)
                )
        for k in required:
            if k not in value or value[k] is None:
                raise self.fail(f"{what} needs '{k}'", value)
        return value

    def sequence(self, node: Mapping[str, Any], key: str, what: str) -> list[Any]:
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(f"{what} must be a list", node, key)
        return value

    # -- scalars -------------------------------------------------------------------------

    def day(self, node: Mapping[str, Any], key: str, what: str) -> date:
        return self.day_value(node[key], node, key, what)

    def day_value(self, value: Any, node: Any, key: str, what: str) -> date:
        if isinstance(value, datetime):
            raise self.fail(f"{what} must be a date without a time, like 2025-05-01", node, key)
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(f"{what} must be a date like 2025-05-01 (not {value!r})", node, key)

    def opt_day(self, node: Mapping[str, Any], key: str, what: str) -> date | None:
        return None if node.get(key) is None else self.day(node, key, what)

    def code(self, node: Mapping[str, Any], key: str, codelist: str, what: str) -> str:
        return self._code_value(node[key], node, key, codelist, what)

    def _code_value(self, value: Any, node: Any, key: str, codelist: str, what: str) -> str:
        cl = STATUTORY_CODELISTS[codelist]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(f"{what} must be a code from '{cl.title}' (not {value!r})", node, key)
        code = str(value).strip()
        if code not in cl:
            raise self.fail(
                f"{what}: '{code}' is not a code in '{cl.title}' "
                f"(codes: {', '.join(c.code for c in cl.codes)})",
                node,
                key,
            )
        return code

    def codes(self, node: Mapping[str, Any], key: str, codelist: str, what: str) -> list[str]:
        values = self.sequence(node, key, what)
        codes = [self._code_value(v, node, key, codelist, what) for v in values]
        for c in codes:
            if codes.count(c) > 1:
                raise self.fail(f"{what}: '{c}' is given twice", node, key)
        return codes

    def yesno(self, node: Mapping[str, Any], key: str, what: str) -> bool:
        value = node.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(f"{what} must be true or false (not {value!r})", node, key)
        return value

    def text(self, node: Mapping[str, Any], key: str, what: str) -> str:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(f"{what} must be text (not {value!r})", node, key)
        return str(value).strip()

    # -- the story -----------------------------------------------------------------------

    def story(self, data: Any) -> dict[str, Any]:
        top = self.mapping(data, "a story", _TOP_KEYS, _TOP_KEYS)
        child, child_node = self.child(top["child"], top)
        if not isinstance(top["episodes"], list) or not top["episodes"]:
            raise self.fail("'episodes' must be a list of at least one episode", top, "episodes")
        episodes: list[dict[str, Any]] = []
        previous: dict[str, Any] | None = None
        for node in top["episodes"]:
            episode = self.episode(node, top)
            if previous is not None:
                self.follows(previous, episode, node)
            episodes.append(episode)
            previous = episode
        self.child_and_episodes(child, child_node, episodes, top["episodes"])
        return {"child": child, "episodes": episodes}

    def child(self, value: Any, parent: Any) -> tuple[dict[str, Any], Mapping[str, Any]]:
        node = self.mapping(value, "'child'", _CHILD_KEYS, ("la_child_id", "sex", "ethnicity"),
                            parent, "child")
        out: dict[str, Any] = {}
        la_id = self.text(node, "la_child_id", "'la_child_id'")
        if not _LA_CHILD_ID_RE.match(la_id):
            raise self.fail(
                "'la_child_id' must be 1 to 20 letters and digits (DfE rules 1570, 1580)",
                node,
                "la_child_id",
            )
        out["la_child_id"] = la_id
        has_upn = node.get("upn") is not None
        has_unknown = node.get("upn_unknown") is not None
        if has_upn == has_unknown:
            raise self.fail("'child' needs either 'upn' or 'upn_unknown' (one, not both)", node)
        if has_upn:
            upn = self.text(node, "upn", "'upn'")
            problem = upn_problem(upn)
            if problem:
                raise self.fail(problem, node, "upn")
            out["upn"] = upn
        else:
            out["upn_unknown"] = self.code(node, "upn_unknown", "upn_unknown", "'upn_unknown'")
        has_birth = node.get("birth_date") is not None
        has_expected = node.get("expected_birth_date") is not None
        if has_birth == has_expected:
            raise self.fail(
                "'child' needs either 'birth_date' or 'expected_birth_date' (one, not both)", node
            )
        if has_birth:
            out["birth_date"] = self.day(node, "birth_date", "'birth_date'")
        else:
            out["expected_birth_date"] = self.day(
                node, "expected_birth_date", "'expected_birth_date'"
            )
        out["sex"] = self.code(node, "sex", "sex", "'sex'")
        if has_expected and out["sex"] != "U":
            raise self.fail("an unborn child's sex must be U (DfE rule 8750)", node, "sex")
        out["ethnicity"] = self.code(node, "ethnicity", "ethnicity", "'ethnicity'")
        disabilities = self.codes(node, "disabilities", "disability", "'disabilities'")
        if "NONE" in disabilities and len(disabilities) > 1:
            raise self.fail(
                "'disabilities' cannot have NONE with other codes (DfE rule 8790)",
                node,
                "disabilities",
            )
        out["disabilities"] = in_code_order(disabilities, "disability")
        return out, node

    def episode(self, value: Any, parent: Any) -> dict[str, Any]:
        node = self.mapping(value, "an episode", _EPISODE_KEYS, ("referral",), parent, "episodes")
        ref_node = self.mapping(node["referral"], "'referral'", _REFERRAL_KEYS, ("date", "source"),
                                node, "referral")
        referral_date = self.day(ref_node, "date", "the referral date")
        nfa = self.yesno(ref_node, "nfa", "'nfa'")
        out: dict[str, Any] = {
            "referral": {
                "date": referral_date,
                "source": self.code(ref_node, "source", "referral_source", "the referral source"),
                "nfa": nfa,
            }
        }
        if node.get("primary_need") is not None:
            out["primary_need"] = self.code(node, "primary_need", "primary_need", "'primary_need'")
        elif not nfa:
            raise self.fail(
                "an episode that goes on to further action needs 'primary_need' (DfE rule 8610)",
                node,
            )
        if nfa:
            for key in ("assessments", "s47", "cp_plans", "cin_plans"):
                if self.sequence(node, key, f"'{key}'"):
                    raise self.fail(
                        f"a referral with no further action ('nfa: true') cannot have '{key}' "
                        "(DfE rules 4000, 8831, 8832)",
                        node,
                        key,
                    )

        assessments = self.assessments(node, referral_date)
        s47s = self.s47s(node, referral_date)
        plans = self.cp_plans(node, referral_date, s47s)
        cin_plans = self.cin_plans(node, referral_date, plans)
        if assessments:
            out["assessments"] = assessments
        if s47s:
            out["s47"] = s47s
        if plans:
            out["cp_plans"] = plans
        if cin_plans:
            out["cin_plans"] = cin_plans
        if node.get("closure") is not None:
            out["closure"] = self.closure(node, out)
        return out

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
    return dates


def parse_story(data: Any, file: str) -> dict[str, Any]:
    """Check a story and return it normalised (see the module docstring).

    ``data`` is what ``load_yaml`` returned for ``file`` (plain dicts and lists work too, without
    line numbers). Raises :class:`StoryFormatError` (a ``StoryError``) naming file and line.
    """
    return _Reader(file).story(data)
