"""The story format: one child's case written as data (``docs/stories.md``).

:func:`parse_story` checks a story (loaded with ``carepath.core.yamlsource.load_yaml``, so every
problem names its file and line) and returns it normalised: codes as text, dates as ``date``,
optional keys left out when empty. That normalised form is exactly what
``carepath.engine.record.case_record.record_to_story`` produces, so a story and its record round-trip.

Besides types and codes, a story must make sense as a case record: the DfE CIN census rules of type
ERROR that concern one child (numbers given in the messages) are checked, except those that depend
on the census year. Rules of type QUERY are not: a story may describe an unusual case.

The reading is layered: :mod:`carepath.engine.stories.reader` reads shapes and scalars,
:mod:`carepath.engine.stories.rules` the parts of an episode, and this module the story as a
whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from carepath.core.upn import upn_check_letter, upn_problem
from carepath.engine.record.model import in_code_order
from carepath.engine.stories.looked_after import LookedAfterReader
from carepath.engine.stories.reader import StoryFormatError
from carepath.engine.stories.rules import EpisodeReader

__all__ = ["StoryFormatError", "parse_story", "upn_check_letter", "upn_problem"]


_LA_CHILD_ID_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")

_TOP_KEYS = ("child", "episodes", "worker_changes", "looked_after")
_WORKER_CHANGE_KEYS = ("date", "worker")
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
    "emergency_protection",
    "closure",
)
_REFERRAL_KEYS = ("date", "source", "nfa")


def story_upn_problem(upn: str) -> str | None:
    """What is wrong with a story's UPN (DfE rules 1510-1550), or None."""
    problem = upn_problem(upn)
    if problem is not None and "check letter" in problem:
        return (f"'upn' {upn} has the wrong check letter: expected {upn_check_letter(upn[1:])} "
                "(DfE rule 1510)")
    if problem is not None:
        return f"'upn' {upn} is not a unique pupil number the DfE accepts. {problem}"
    return None


class _Reader(EpisodeReader, LookedAfterReader):
    """Reads a whole story: the child, then each episode in turn."""

    # -- the story -----------------------------------------------------------------------

    def story(self, data: Any) -> dict[str, Any]:
        top = self.mapping(data, "a story", _TOP_KEYS, ("child", "episodes"))
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
        story: dict[str, Any] = {"child": child, "episodes": episodes}
        changes = self.worker_changes(top, episodes)
        if changes:
            story["worker_changes"] = changes
        looked_after = self.looked_after(top)
        if looked_after:
            story["looked_after"] = looked_after
        return story

    def worker_changes(self, top: Mapping[str, Any],
                       episodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``worker_changes``: the days a new worker was allocated to the case, in order, each
        while an episode is open (from its referral to its closure day)."""
        out: list[dict[str, Any]] = []
        for node in self.sequence(top, "worker_changes", "'worker_changes'"):
            entry = self.mapping(node, "a worker change", _WORKER_CHANGE_KEYS,
                                 _WORKER_CHANGE_KEYS, top, "worker_changes")
            day = self.day(entry, "date", "the date of a worker change")
            worker = self.text(entry, "worker", "'worker'")
            if not worker:
                raise self.fail("a worker change needs the new worker's name", entry, "worker")
            if out and day < out[-1]["date"]:
                raise self.fail("worker changes must be in date order", entry, "date")
            if not any(e["referral"]["date"] <= day and not e["referral"]["nfa"] and (
                    "closure" not in e or day <= e["closure"]["date"]) for e in episodes):
                raise self.fail(f"a worker change on {day.isoformat()} is not while an episode "
                                "is open (from its referral to its closure; not on a referral "
                                "with no further action)", entry, "date")
            out.append({"date": day, "worker": worker})
        return out

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
            problem = story_upn_problem(upn)
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
        elif not nfa and (node.get("closure") is not None or any(
                node.get(key) for key in ("assessments", "s47", "cp_plans", "cin_plans",
                                          "emergency_protection"))):
            # only a referral still waiting for its decision (open, nothing else recorded) has
            # neither 'nfa: true' nor a primary need
            raise self.fail(
                "an episode that goes on to further action needs 'primary_need' (DfE rule 8610)",
                node,
            )
        if nfa:
            for key in ("assessments", "s47", "cp_plans", "cin_plans", "emergency_protection"):
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
        protection = self.emergency_protection(node, referral_date)
        if protection:
            out["emergency_protection"] = protection
        if node.get("closure") is not None:
            out["closure"] = self.closure(node, out)
        return out


def parse_story(data: Any, file: str) -> dict[str, Any]:
    """Check a story and return it normalised (see the module docstring).

    ``data`` is what ``load_yaml`` returned for ``file`` (plain dicts and lists work too, without
    line numbers). Raises :class:`StoryFormatError` (a ``StoryError``) naming file and line.
    """
    return _Reader(file).story(data)
