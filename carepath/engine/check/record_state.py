"""What a path has recorded, as the record names conditions and ``show_if`` read.

Gateway conditions, timers and ``show_if`` may read the case record (``cin_plan.open``,
``episode.assessments``…). Along a path the checker knows what the forms completed so far
recorded, as symbolic values (:mod:`.symbolic`): a date a required question gave is set, a
yes/no deciding answer is known, an optional answer is unknown. :class:`RecordState` keeps the
record names the pack reads (and the items they are worked out from) in the path's names, under
dotted keys that no answer can have, and carries them into processes started later, as the
runtime's record does. Names it does not follow (``child.age_years``, ``cp_plan.previous_plans``)
stay unknown: a condition reading them takes every branch it could.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from carepath.core.record_items import RECORD_NAMES
from carepath.engine.check.paths import compiled
from carepath.engine.check.symbolic import SET, UNKNOWN, Outcome, _join, evaluate

# Names worked out from other names, as carepath.engine.record.context works them out.
DERIVED: dict[str, str] = {
    "episode.open": "closure.date is None and not referral.nfa",
    "episode.closed": "closure.date is not None",
    "assessment.open": "assessment.start is not None and assessment.authorised is None",
    "s47.open": "s47.start is not None and s47.icpc_date is None and not s47.icpc_not_required",
    "cp_plan.open": "cp_plan.start is not None and cp_plan.end is None",
    "cin_plan.open": "cin_plan.start is not None and cin_plan.end is None",
    # the looked-after record (child-level: carried into every process started later)
    "care.open": "care.start is not None and care.end is None",
    "placement.open": "care.open and placement.start is not None and placement.end is None",
    "missing.open": "missing.start is not None and missing.end is None",
    "adoption.open": "adoption.decision is not None and adoption.reversed is None",
}
# What a path starts from: a referral just recorded (no other activity on the episode yet).
INITIAL: dict[str, Any] = {
    "referral.date": SET, "referral.source": SET, "referral.nfa": False,
    "episode.primary_need": None, "episode.assessments": 0,
    "assessment.start": None, "assessment.authorised": None, "assessment.factors": [],
    "s47.start": None, "s47.icpc_date": None, "s47.icpc_not_required": None,
    "cp_plan.start": None, "cp_plan.end": None, "cp_plan.initial_category": None,
    "cp_plan.latest_category": None, "cp_plan.last_review": None,
    "cin_plan.start": None, "cin_plan.end": None,
    "closure.date": None, "closure.reason": None,
    # the child is not looked after when the referral comes in
    "care.start": None, "care.end": None, "care.need": None, "care.reason_ceased": None,
    "care.periods": 0,
    "legal_status.start": None, "legal_status.code": None,
    "placement.start": None, "placement.end": None, "placement.type": None,
    "placement.provider": None,
    "lac_review.last": None, "lac_review.count": 0,
    "missing.start": None, "missing.end": None, "missing.kind": None,
    "adoption.decision": None, "adoption.reversed": None, "adoption.matched": None,
}
# What `X.start` resets: a new X has none of the latest one's items.
_RESET: dict[str, dict[str, Any]] = {
    "assessment": {"assessment.authorised": None, "assessment.factors": []},
    "s47": {"s47.icpc_date": None, "s47.icpc_not_required": None},
    "cp_plan": {"cp_plan.end": None, "cp_plan.initial_category": None,
                "cp_plan.latest_category": None, "cp_plan.last_review": None},
    "cin_plan": {"cin_plan.end": None},
    "care": {"care.end": None, "care.need": None, "care.reason_ceased": None,
             "lac_review.last": None, "lac_review.count": 0},
    "legal_status": {"legal_status.code": None},
    "placement": {"placement.end": None, "placement.type": None, "placement.provider": None},
    "missing": {"missing.end": None, "missing.kind": None},
    "adoption": {"adoption.reversed": None, "adoption.matched": None},
}
# The record item a form fills that opens a new entry, where it is not `X.start`.
_OPENING = {"lac_review.date": "lac_review", "adoption.decision": "adoption"}
# Where an item goes in the record state, where it is not its own name.
_TARGET = {"cp_plan.review": "cp_plan.last_review", "lac_review.date": "lac_review.last"}
# What ending the period of care ends (legal status and placement read None outside care).
_CARE_ENDS = {"legal_status.code": None, "legal_status.start": None, "placement.type": None,
              "placement.provider": None, "placement.start": None}
# Counters an opening item adds one to.
_COUNTS = {"assessment.start": "episode.assessments", "care.start": "care.periods",
           "lac_review.date": "lac_review.count"}


def record_reads(paths: Iterable[str]) -> frozenset[str]:
    """The record names among an expression's ``paths``."""
    return frozenset(p for p in paths if "." in p and p in RECORD_NAMES)


class RecordState:
    """Follows the record names in ``reads`` (and what they are worked out from) along a path."""

    def __init__(self, reads: Iterable[str]) -> None:
        wanted = set(reads)
        size = -1
        while size != len(wanted):  # a derived name may read another (placement.open)
            size = len(wanted)
            for name in list(wanted):
                if name in DERIVED:
                    wanted |= compiled(DERIVED[name]).paths
        for name in list(wanted):
            namespace = name.split(".")[0]
            if f"{namespace}.start" in INITIAL:
                wanted.add(f"{namespace}.start")  # a new X resets the others
        if wanted & {*_CARE_ENDS, "lac_review.count", "lac_review.last"}:
            wanted |= {"care.start", "care.end"}  # a new period resets, its end ends them
        for opening, counter in _COUNTS.items():
            if counter in wanted:
                wanted.add(opening)
        self.followed = frozenset(n for n in wanted if n in INITIAL)
        self.derived = {n: compiled(s) for n, s in DERIVED.items() if n in wanted}
        self._order = tuple(sorted(self.followed))
        # (the outcome, the followed names before) -> (the outcome, the names after)
        self._applied: dict[tuple[Any, ...], tuple[Outcome, dict[str, Any]]] = {}

    def __bool__(self) -> bool:
        return bool(self.followed or self.derived)

    def initial(self) -> dict[str, Any]:
        return self._derive({n: INITIAL[n] for n in self.followed})

    def apply(self, env: Mapping[str, Any], outcome: Outcome) -> dict[str, Any]:
        """The followed names after a form with ``outcome`` is completed."""
        if not self:
            return {}
        try:
            key: tuple[Any, ...] = (id(outcome), *(env.get(n, UNKNOWN) for n in self._order))
            found = self._applied.get(key)
        except TypeError:  # an unhashable value: work it out each time
            return self._apply(env, outcome)
        if found is None or found[0] is not outcome:
            found = self._applied[key] = (outcome, self._apply(env, outcome))
        return dict(found[1])

    def _apply(self, env: Mapping[str, Any], outcome: Outcome) -> dict[str, Any]:
        names = {n: env.get(n, UNKNOWN) for n in self.followed}
        filled = sorted(outcome.filled(), key=lambda item: not (
            item.endswith(".start") or item in _OPENING))
        for item in filled:
            namespace, _, key = item.partition(".")
            target = _TARGET.get(item, item)
            value = outcome.items.get(item, SET) if item in outcome.sure else UNKNOWN
            sure = item in outcome.sure
            counter = _COUNTS.get(item)
            if (key == "start" or item in _OPENING) and (
                    item in names or target in names or counter in names):
                for reset, empty in _RESET.get(namespace, {}).items():
                    if reset in names:
                        names[reset] = empty if sure else _join(names[reset], empty)
                if counter is not None and counter in names:
                    count = names[counter]
                    names[counter] = (count + 1 if sure and isinstance(count, int)
                                      else UNKNOWN)
            if item == "care.end":
                for ended, empty in _CARE_ENDS.items():
                    if ended in names:
                        names[ended] = empty if sure else _join(names[ended], empty)
            if target in names:
                names[target] = value if sure else _join(names[target], value)
        return self._derive(names)

    def _derive(self, names: dict[str, Any]) -> dict[str, Any]:
        for name, expression in self.derived.items():
            names[name] = evaluate(expression, names)
        return names

    @staticmethod
    def carried(env: Mapping[str, Any]) -> dict[str, Any]:
        """The record names of ``env``: what a process started next still sees."""
        return {k: v for k, v in env.items() if "." in k}
