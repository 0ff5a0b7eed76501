"""What the checks of the record contract share (:mod:`.coverage`, :mod:`.care_contract`).

The record as a path has built it so far (:class:`_Rec`), how surely a step fills an item
(:data:`Level`), and how a breach is reported (:class:`ContractBase`).

Items a form fills only if an optional question is answered count as possibly missing (an
error where the item is required); items behind a ``show_if`` that cannot be worked out are
errors too, unless the pack accepts them (``accept_undecided`` in pack.yaml: then warnings).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from carepath.engine.check.paths import Branch, Step, Trail
from carepath.engine.check.report import Findings, Severity
from carepath.engine.pack import Pack

Level = Literal["sure", "optional", "unsure"]
_Level = Callable[[str], "Level | None"]  # how surely the step being checked fills an item
Ref = Branch  # where something was recorded: the parallel branch of its step
_Severity = Literal["error", "warning", "undecided"]
_ORDER = {"sure": 3, "optional": 2, "unsure": 1, None: 0}


class _Obj(NamedTuple):
    at: Ref
    done: Level | None = None  # assessment: authorised; s47: concluded; plans: ended
    extra: Level | None = None  # assessment: factors; CP plan: initial category
    done_at: Ref = ()  # where it was authorised / concluded / ended


class _Rec(NamedTuple):
    decided: bool = False
    nfa: Ref | None = None
    need: bool = False
    activity: Ref | None = None
    assessment: _Obj | None = None
    assessed: bool = False
    s47: _Obj | None = None
    icpc: tuple[Ref, Level] | None = None
    cp: _Obj | None = None
    cin: _Obj | None = None
    worked: bool = False  # an enquiry or a plan is on the episode (rule 2990)
    closed: tuple[Ref, Level] | None = None  # where the episode closed, and how surely
    care: Level | None = None  # how surely the child is looked after (None: not)
    fills: tuple[Ref, ...] = ()  # steps in parallel branches that recorded something
    branched: bool = False  # some Ref above names a parallel branch


def _plain(ref: Ref | None) -> Ref | None:
    return None if ref is None else ()


def _settle(rec: _Rec) -> _Rec:
    """After a parallel block has joined, every step of it came before what follows: forget the
    branches (so paths that differ only there share what follows)."""
    def obj(o: _Obj | None) -> _Obj | None:
        return None if o is None else o._replace(at=(), done_at=())

    closed = None if rec.closed is None else ((), rec.closed[1])
    return rec._replace(
        nfa=_plain(rec.nfa), activity=_plain(rec.activity), assessment=obj(rec.assessment),
        s47=obj(rec.s47), icpc=None if rec.icpc is None else ((), rec.icpc[1]),
        cp=obj(rec.cp), cin=obj(rec.cin), closed=closed, fills=(), branched=False)


def _best(a: Level | None, b: Level | None) -> Level | None:
    return a if _ORDER[a] >= _ORDER[b] else b


def _severity(trigger: Level | None, have: Level | None) -> _Severity | None:
    """How bad it is that a step doing something (``trigger``: how surely it does it) finds an
    item it needs only ``have`` (None: nothing to report). "undecided": it hangs on a
    ``show_if`` the checker cannot work out, an error unless the pack accepts it."""
    if trigger is None or have == "sure":
        return None
    if trigger == "sure" and have != "unsure":
        return "error"
    return "undecided" if "unsure" in (trigger, have) else "warning"


class ContractBase:
    """What the checks of the record contract share: the pack, where findings go, and how
    they are worded and reported."""

    def __init__(self, pack: Pack, findings: Findings) -> None:
        self.pack = pack
        self.findings = findings

    # -- reporting ------------------------------------------------------------------------------

    def _field(self, step: Step, item: str) -> str | None:
        form = self.pack.forms.get(step.form or "")
        for f in form.fields if form is not None else ():
            if f.record == item:
                return f.name
        return None

    def _why(self, step: Step, item: str, have: Level | None) -> str:
        name = self._field(step, item)
        if have == "optional" and name:
            return f" ('{name}' is optional on form '{step.form}' and may be left blank)"
        if have == "unsure" and name:
            return f" ('{name}' on form '{step.form}' may not be shown: its show_if cannot be " \
                   "worked out here)"
        return ""

    def accepted(self, step: Step, item: str | None) -> bool:
        """Whether the pack accepts that ``item`` hangs on a ``show_if`` it cannot decide
        (``accept_undecided`` in pack.yaml names the item or a field of the step's form)."""
        accept = self.pack.accept_undecided
        if item in accept:
            return True
        form = self.pack.forms.get(step.form or "")
        return form is not None and any(
            f"{form.id}.{f.name}" in accept for f in form.fields if f.show_if is not None)

    def _report(self, severity: _Severity | None, trail: Trail, rules: tuple[str, ...],
                item: str | None, message: str, key: Any = None) -> None:
        if severity is None:
            return
        found: Severity
        if severity == "undecided":
            if self.accepted(trail.step, item):
                found = "warning"
                message += " (accepted in pack.yaml: accept_undecided)"
            else:
                found = "error"
                message += (" — a condition decides it that pack check cannot work out: "
                            "make it decidable, or accept it with accept_undecided in pack.yaml")
        else:
            found = severity
        self.findings.at(found, "record", message, trail, rules=rules, item=item,
                         key=None if key is None else ("record", rules, item, key))
