"""Value rules and dead ends: what a path's forms let a worker record, and where a path stops.

:class:`ValueRules` checks the DfE rules about the values of one child's record that the record
itself refuses when they are written (see ``carepath.engine.record.changes``): a form must be able
to satisfy them, and a form that records both sides of a rule must tie them together itself, so
the worker is told at the question, not refused by the record afterwards:

* a child protection plan starts on the day of the initial child protection conference (2885):
  a form recording both gives the plan start ``same_as:`` the conference date; a plan start tied
  (``same_as``) to any other date cannot be proved to satisfy it;
* dates in order on one form: authorisation on or after the assessment start (8608), the
  conference on or after the strategy discussion (8615), a child in need plan's end on or after
  its start, a child protection plan's end and reviews after its start (8840, 8841: a date
  ``same_as`` the start can never be accepted);
* factor 21 ("no factors") is never given with other factors (8869), also in a form's example.

:class:`DeadEnds` reports a path that ends every process with the episode still open (not closed,
not a referral with no further action) when no action of the pack (``actions:`` in pack.yaml) can
be available on that record: the child would be stuck, as a new referral is refused while the
episode is open.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from carepath.engine.check.paths import EndKind, Trail
from carepath.engine.check.report import Findings
from carepath.engine.check.symbolic import UNKNOWN, evaluate, truth
from carepath.engine.pack import Pack
from carepath.forms.schema import Field

# (later item, earlier item, DfE rules, whether the later date must be strictly after)
DATE_ORDER: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("assessment.authorised", "assessment.start", ("8608",), False),
    ("s47.icpc_date", "s47.start", ("8615",), False),
    ("cin_plan.end", "cin_plan.start", (), False),
    ("cp_plan.end", "cp_plan.start", ("8840", "8925"), True),
    ("cp_plan.review", "cp_plan.start", ("8841",), True),
)


class ValueRules:
    """An observer: each form completed on a path can satisfy the value rules of the record."""

    def __init__(self, pack: Pack, findings: Findings) -> None:
        self.pack = pack
        self.findings = findings
        self._seen: set[tuple[str, int]] = set()

    def begin(self) -> None:
        return None

    def step(self, state: None, trail: Trail) -> None:
        step = trail.step
        form = self.pack.forms.get(step.form or "")
        if step.kind != "task" or form is None:
            return None
        filled = step.outcome.filled()
        fields = {f.record: f for f in form.fields if f.record in filled}

        def report(rules: tuple[str, ...], item: str, message: str) -> None:
            self.findings.at("error", "value", message, trail, rules=rules, item=item,
                             key=("value", rules, item, form.id))

        plan = fields.get("cp_plan.start")
        if plan is not None:
            icpc = fields.get("s47.icpc_date")
            if icpc is not None and plan.same_as != icpc.name:
                report(("2885",), "cp_plan.start",
                       f"form '{form.id}' lets '{plan.name}' (the plan start) differ from "
                       f"'{icpc.name}' (the conference it records): the plan must start on the "
                       f"day of the conference and the record refuses any other date; give "
                       f"'{plan.name}' same_as: {icpc.name}")
            elif icpc is None and plan.same_as is not None:
                report(("2885",), "cp_plan.start",
                       f"form '{form.id}' ties '{plan.name}' (the plan start) to "
                       f"'{plan.same_as}', which is not the conference date: the record accepts "
                       "only the day of the initial child protection conference")
        for later, earlier, rules, strict in DATE_ORDER:
            late, early = fields.get(later), fields.get(earlier)
            if late is None or early is None:
                continue
            if strict and late.same_as == early.name:
                report(rules, later, f"form '{form.id}' makes '{late.name}' the same day as "
                       f"'{early.name}', which the record never accepts ({later} must be after "
                       f"{earlier})")
            elif not _tied(late, early):
                report(rules, later, f"form '{form.id}' lets '{late.name}' ({later}) be before "
                       f"'{early.name}' ({earlier}), which the record refuses; give "
                       f"'{late.name}' not_before: {early.name}")
        factors = fields.get("assessment.factors")
        example = factors.example if factors is not None else None
        if isinstance(example, list) and "21" in example and len(example) > 1:
            report(("8869",), "assessment.factors",
                   f"form '{form.id}' gives factor 21 (no factors) with other factors in the "
                   f"example of '{factors.name if factors else ''}', which the record refuses")
        return None

    def finish(self, state: None, trail: Trail, end: EndKind) -> None:
        return None


def _tied(late: Field, early: Field) -> bool:
    return early.name in (late.not_before, late.same_as)


# --------------------------------------------------------------------------- dead ends


class _Open(NamedTuple):
    """What a path has recorded on the episode: True, False or None (it may be either)."""

    closed: bool | None = False
    nfa: bool | None = False
    assessment: bool | None = False
    s47: bool | None = False
    cp_plan: bool | None = False
    cin_plan: bool | None = False
    care: bool | None = False  # the child is looked after (a path starts with the child not)
    cared: bool | None = False  # a period of care was started on the path


_OPENS = {"assessment.start": "assessment", "s47.start": "s47", "cp_plan.start": "cp_plan",
          "cin_plan.start": "cin_plan", "care.start": "care"}
_ENDS = {"assessment.authorised": "assessment", "s47.icpc_date": "s47",
         "s47.icpc_not_required": "s47", "cp_plan.end": "cp_plan", "cin_plan.end": "cin_plan",
         "care.end": "care"}


def _set(state: _Open, name: str, value: bool, sure: bool) -> _Open:
    old = getattr(state, name)
    return state._replace(**{name: value if sure or old == value else None})


class DeadEnds:
    """An observer: a path that ends with the episode open must leave an action available."""

    def __init__(self, pack: Pack, findings: Findings) -> None:
        self.pack = pack
        self.findings = findings

    def begin(self) -> _Open:
        return _Open()

    def step(self, state: _Open, trail: Trail) -> _Open:
        step = trail.step
        if step.kind != "task":
            return state
        out = step.outcome
        filled = out.filled()
        if not filled:
            return state
        for item in sorted(filled & set(_OPENS)):
            state = _set(state, _OPENS[item], True, item in out.sure)
        if "care.start" in filled:
            state = _set(state, "cared", True, "care.start" in out.sure)
        for item in sorted(filled & set(_ENDS)):
            if item == "s47.icpc_not_required" and out.items.get(item, UNKNOWN) is False:
                continue
            state = _set(state, _ENDS[item], False, item in out.sure)
        if "referral.nfa" in filled and out.items.get("referral.nfa", UNKNOWN) is not False:
            sure = "referral.nfa" in out.sure and out.items.get("referral.nfa") is True
            state = _set(state, "nfa", True, sure)
        if "closure.date" in filled:
            state = _set(state, "closed", True, "closure.date" in out.sure)
        return state

    def names(self, state: _Open) -> dict[str, Any]:
        def value(v: bool | None) -> Any:
            return UNKNOWN if v is None else v

        return {"episode.open": True, "assessment.open": value(state.assessment),
                "s47.open": value(state.s47), "cp_plan.open": value(state.cp_plan),
                "cin_plan.open": value(state.cin_plan), "care.open": value(state.care),
                "care.periods": 0 if state.cared is False else UNKNOWN}

    def finish(self, state: _Open, trail: Trail, end: EndKind) -> None:
        if end != "end" or state.closed is not False or state.nfa is not False:
            return  # closed, no further action, or it may be: not surely stuck
        names = self.names(state)
        for action in self.pack.actions.values():
            if action.start is None:
                continue  # a change of worker does not continue the case
            if truth(evaluate(action.available, names)) is not False:
                return
        step = trail.step
        self.findings.at(
            "error", "dead-end",
            f"the case stops at '{step.title}' with the episode still open: no process is "
            "running and no action of the pack can be taken on this record, so nothing can "
            "continue or close it (and a new referral is refused while it is open)",
            trail, key=("dead-end", step.process, step.node))
