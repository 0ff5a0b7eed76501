"""Three-valued evaluation of pack expressions, and the answers a form can give.

The pack checker does not know what a worker will type, but it knows what a form *can* give: a
yes/no question is yes or no, a choice is one of its options, a required date is some date. Gateway
conditions and ``show_if`` mostly compare such answers with literals (``next_step == 'close'``,
``not nfa``), so they can be worked out exactly once the answers of the deciding questions are
fixed. :func:`form_outcomes` lists the distinct outcomes of a form (one per combination of its
deciding answers); :func:`evaluate` works out an expression over known values, values known only
to be set (:class:`Opaque`) and :data:`UNKNOWN` (anything, None included), giving UNKNOWN where
the answer could go either way.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from carepath.core.codes import Codelist
from carepath.core.expressions.evaluator import Expression
from carepath.forms.schema import Field, FieldType, Form


class _Unknown:
    """A value the checker cannot know (possibly None)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Opaque:
    """A value known to be set (not None) whose content is unknown; ``truthy`` says whether it
    is true (a date, a required text) or None if that is unknown too (a number)."""

    truthy: bool | None = True


SET = Opaque(True)
SET_ANY = Opaque(None)
DATE_FUNCTIONS = frozenset({"working_days_after", "months_after", "days_after"})


def truth(value: Any) -> bool | None:
    """Whether ``value`` is true: True, False or None (unknown)."""
    if value is UNKNOWN:
        return None
    if isinstance(value, Opaque):
        return value.truthy
    return bool(value)


def _known(value: Any) -> bool:
    return value is not UNKNOWN and not isinstance(value, Opaque)


def _set(value: Any) -> bool:
    """True when ``value`` is certainly not None."""
    return isinstance(value, Opaque) or (value is not UNKNOWN and value is not None)


def _join(a: Any, b: Any) -> Any:
    """One value standing for 'a or b'."""
    if _known(a) and _known(b):
        try:
            if a == b and type(a) is type(b):
                return a
        except Exception:  # noqa: BLE001 - any odd comparison is simply not equal
            pass
    if _set(a) and _set(b):
        ta, tb = truth(a), truth(b)
        return Opaque(ta if ta == tb else None)
    return UNKNOWN


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


_DOTTED: dict[int, tuple[ast.Attribute, str]] = {}


def _dotted(node: ast.Attribute) -> str:
    """A record name's text (``cp_plan.open``), worked out once per node."""
    found = _DOTTED.get(id(node))
    if found is None or found[0] is not node:
        found = _DOTTED[id(node)] = (node, ast.unparse(node))
    return found[1]


class _Evaluator:
    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names

    def eval(self, node: ast.expr) -> Any:  # noqa: PLR0911 - one case per node kind
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.names.get(node.id, UNKNOWN)
        if isinstance(node, ast.Attribute):
            return self.names.get(_dotted(node), UNKNOWN)
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            t = truth(self.eval(node.operand))
            return UNKNOWN if t is None else not t
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            t = truth(self.eval(node.test))
            if t is None:
                return _join(self.eval(node.body), self.eval(node.orelse))
            return self.eval(node.body if t else node.orelse)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = [self.eval(e) for e in node.elts]
            if all(_known(i) for i in items):
                return items if isinstance(node, ast.List) else tuple(items)
            return SET
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._call(node.func.id, [self.eval(a) for a in node.args])
        return UNKNOWN

    def _boolop(self, node: ast.BoolOp) -> Any:
        stop = isinstance(node.op, ast.Or)  # `or` stops at the first true value
        undecided = False
        value: Any = None
        for part in node.values:
            value = self.eval(part)
            t = truth(value)
            if t is None:
                undecided = True
            elif t == stop and not undecided:
                return value
        return UNKNOWN if undecided else value

    def _compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node)
            step = _compare(type(op), left, right)
            if step is False:
                return False
            if step is UNKNOWN:
                result = UNKNOWN
            left = right
        return result

    @staticmethod
    def _call(name: str, args: list[Any]) -> Any:
        if name in DATE_FUNCTIONS and args:
            first = args[0]
            if first is None:
                return None
            return SET if _set(first) else UNKNOWN
        if name == "bool" and len(args) == 1:
            t = truth(args[0])
            return UNKNOWN if t is None else t
        return UNKNOWN


def _compare(op: type[ast.cmpop], left: Any, right: Any) -> Any:
    if _known(left) and _known(right):
        try:
            return bool(_COMPARE[op](left, right))
        except Exception:  # noqa: BLE001 - the real evaluator would fail: say nothing
            return UNKNOWN
    if op in (ast.Eq, ast.Is, ast.NotEq, ast.IsNot) and (left is None or right is None):
        other = right if left is None else left
        if _set(other):
            return op in (ast.NotEq, ast.IsNot)
    return UNKNOWN


def evaluate(expression: Expression, names: Mapping[str, Any]) -> Any:
    """The value of ``expression`` over ``names`` (plain or dotted names); UNKNOWN where it
    could be more than one thing. Names missing from ``names`` are UNKNOWN."""
    return _Evaluator(names).eval(expression.tree.body)


# --------------------------------------------------------------------------- form outcomes

# Record items whose yes/no value the checks need to know.
DECIDING_ITEMS = frozenset({"referral.nfa", "s47.icpc_not_required"})
MAX_OUTCOMES = 512


@dataclass(frozen=True)
class Outcome:
    """One way a form can be completed.

    ``values``: every top-level field -> value (a known value, None when hidden, an Opaque or
    UNKNOWN). ``sure``: record items certainly filled; ``optional``: filled only if the worker
    answers an optional question; ``unsure``: filled if a question whose ``show_if`` cannot be
    worked out is shown. ``items``: the value given to each filled item when known. ``label``:
    the deciding answers, for people (``nfa = no, next_step = 'strategy_discussion'``).
    """

    values: Mapping[str, Any]
    sure: frozenset[str]
    optional: frozenset[str]
    unsure: frozenset[str]
    items: Mapping[str, Any]
    label: str

    def may_fill(self, item: str) -> bool:
        return item in self.sure or item in self.optional or item in self.unsure

    def filled(self) -> frozenset[str]:
        return self.sure | self.optional | self.unsure


def _domain(f: Field, codelists: Mapping[str, Codelist]) -> list[Any] | None:
    """The answers a deciding question can have (None: not a question to enumerate)."""
    if f.type is FieldType.YESNO:
        values: list[Any] = [True, False]
    elif f.type is FieldType.CHOICE:
        if f.options:
            values = [o.value for o in f.options]
        elif f.codelist and f.codelist in codelists:
            values = [c.code for c in codelists[f.codelist].codes]
        else:
            return None
    else:
        return None
    return values if f.required else [*values, None]


def _unknown_value(f: Field) -> Any:
    """The value of a shown question that is not enumerated."""
    if not f.required:
        return UNKNOWN
    if f.type in (FieldType.NUMBER, FieldType.YESNO):
        return SET_ANY
    if f.type is FieldType.GROUP:
        return SET if (f.min or 0) >= 1 else UNKNOWN
    return SET


def _show(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return "blank"
    return repr(value)


def form_outcomes(
    form: Form, deciding: Collection[str], codelists: Mapping[str, Codelist],
    record: Mapping[str, Any] | None = None,
    max_outcomes: int = MAX_OUTCOMES,
) -> list[Outcome]:
    """The distinct outcomes of ``form``: one per combination of the answers of its deciding
    questions (yes/no and choice questions named in ``deciding``, read by its own ``show_if``
    or filling a deciding record item), as far as they can be shown together. ``record``: the
    record names (``cin_plan.open``) its ``show_if`` read, as far as they are known. At most
    ``max_outcomes`` are listed: a list that long may be cut short (the caller says so)."""
    read_by_form = {n for f in form.fields if f.show_if is not None for n in f.show_if.names}
    fields = form.fields
    enumerate_ = [
        f.name in deciding or f.name in read_by_form or f.record in DECIDING_ITEMS
        for f in fields
    ]
    results: list[Outcome] = []

    def walk(i: int, names: dict[str, Any], shown: dict[str, bool | None],
             label: list[str]) -> None:
        if len(results) > max_outcomes:
            return
        if i == len(fields):
            results.append(_outcome(form, names, shown, label))
            return
        f = fields[i]
        show = True if f.show_if is None else truth(evaluate(f.show_if, names))
        domain = _domain(f, codelists) if enumerate_[i] and show is not None else None
        if show is False:
            choices: list[tuple[Any, str | None]] = [(None, None)]
        elif domain is not None:
            choices = [(v, f"{f.name} = {_show(v)}") for v in domain]
        else:
            choices = [(UNKNOWN if show is None else _unknown_value(f), None)]
        for value, text in choices:
            walk(i + 1, {**names, f.name: value}, {**shown, f.name: show},
                 [*label, text] if text else label)

    walk(0, dict(record or {}), {}, [])
    return results


def _outcome(form: Form, names: Mapping[str, Any], shown: Mapping[str, bool | None],
             label: list[str]) -> Outcome:
    sure: set[str] = set()
    optional: set[str] = set()
    unsure: set[str] = set()
    items: dict[str, Any] = {}
    for f in form.fields:
        if f.record is None:
            continue
        value, show = names[f.name], shown[f.name]
        if show is None:
            unsure.add(f.record)
        elif show and value is not None:
            if value is UNKNOWN:
                optional.add(f.record)
            else:
                sure.add(f.record)
                if _known(value):
                    items[f.record] = value
    answers = {k: v for k, v in names.items() if "." not in k}
    return Outcome(answers, frozenset(sure), frozenset(optional), frozenset(unsure), items,
                   ", ".join(label))
