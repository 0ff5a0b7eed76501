"""Refusing, as a pack loads, an expression that could never be evaluated within its budget.

Many expressions that would blow the budget (:mod:`carepath.core.expressions.budget`) say so on
their face: ``[[0] * 10000] * 10000``, ``2 ** 10 ** 10``, ``'a' * 10 ** 9``. :func:`estimate`
works out, from the literals alone, a *lower bound* on what each part would build and cost, with
the same counting as the evaluation. A part that is too large on its own is refused wherever it
stands (even in a branch that might not run: it could never run successfully); the parts that
surely run -- not the other branches of ``if``/``else``, ``and``/``or`` or a chained comparison --
are refused together when their sum passes a limit. Anything that depends on the task data is
left to the evaluation, which charges it as it goes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import NamedTuple

from carepath.core.errors import UnsafeExpression
from carepath.core.expressions.budget import (
    CONCAT,
    ITEMS,
    NUMBER,
    REPEAT,
    STEPS,
    TEXT,
    Budget,
    OverBudget,
    power_detail,
    scalar_size,
)
from carepath.core.expressions.builtins import is_int, short_value
from carepath.core.expressions.language import (
    MAX_CONCAT,
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_REPEAT,
    MAX_STEPS,
    MAX_TEXT,
)
from carepath.core.expressions.operations import power


class _Guess(NamedTuple):
    """What is known of a part before it runs: ``size`` -- no value of it is smaller;
    ``length`` and ``kind`` -- a list, tuple or text of known length (which '*' repeats and '+'
    joins); ``number`` -- a whole number worked out from literals; ``built`` and ``steps`` -- at
    least this much is charged while it runs."""

    size: int = 1
    built: int = 0
    steps: int = 0
    length: int | None = None
    kind: type | None = None
    number: int | None = None


def estimate(body: ast.expr) -> None:
    """Raise :class:`UnsafeExpression` if ``body`` would go over its budget whatever the data."""
    guess = _guess(body)
    if guess.built > MAX_ITEMS:
        raise _refused(ITEMS)
    if guess.steps > MAX_STEPS:
        raise _refused(STEPS)


def _refused(detail: str) -> UnsafeExpression:
    return UnsafeExpression(f"it {detail}")


def _guess(node: ast.expr) -> _Guess:
    if isinstance(node, ast.Constant):
        return _constant(node.value)
    if isinstance(node, ast.UnaryOp):
        operand = _guess(node.operand)
        if operand.number is not None and isinstance(node.op, ast.USub | ast.UAdd):
            number = -operand.number if isinstance(node.op, ast.USub) else operand.number
            return operand._replace(number=number)
        return _Guess(built=operand.built, steps=operand.steps)
    if isinstance(node, ast.BinOp):
        return _binop(node.op, _guess(node.left), _guess(node.right))
    if isinstance(node, ast.List | ast.Tuple):
        return _sequence(node, [_guess(e) for e in node.elts])
    if isinstance(node, ast.Set | ast.Dict):
        return _hashed(node)
    if isinstance(node, ast.JoinedStr):
        return _fstring(node)
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Compare):
        first = _guess(node.left), _guess(node.comparators[0])
        steps = first[0].steps + first[1].steps
        if not isinstance(node.ops[0], ast.Is | ast.IsNot):
            steps += first[0].size + first[1].size
        _each(node.comparators[1:])  # checked on their own; they may not run
        return _Guess(built=first[0].built + first[1].built, steps=steps)
    if isinstance(node, ast.IfExp):
        test, body, orelse = _guess(node.test), _guess(node.body), _guess(node.orelse)
        return _Guess(
            size=min(body.size, orelse.size),
            built=test.built + min(body.built, orelse.built),
            steps=test.steps + min(body.steps, orelse.steps),
        )
    if isinstance(node, ast.BoolOp):
        values = _each(node.values)
        return _Guess(
            size=min(v.size for v in values), built=values[0].built, steps=values[0].steps
        )
    # Names, record parts, subscripts and slices: what they give depends on the data.
    parts = _each(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
    return _Guess(built=sum(p.built for p in parts), steps=sum(p.steps for p in parts))


def _each(nodes: Iterable[ast.expr]) -> list[_Guess]:
    return [_guess(n) for n in nodes]


def _constant(value: object) -> _Guess:
    size = scalar_size(value) or 1
    if isinstance(value, str):
        return _Guess(size=size, length=len(value), kind=str)
    if is_int(value):
        assert isinstance(value, int)
        return _Guess(size=size, number=value)
    return _Guess(size=size)


def _number(value: int, built: int, steps: int) -> _Guess:
    if value.bit_length() > MAX_INT_BITS:
        raise _refused(NUMBER)
    return _Guess(size=scalar_size(value) or 1, built=built, steps=steps, number=value)


def _binop(op: ast.operator, left: _Guess, right: _Guess) -> _Guess:
    built, steps = left.built + right.built, left.steps + right.steps
    a, b = left.number, right.number
    if isinstance(op, ast.Pow) and b is not None and abs(b) > MAX_EXPONENT:
        raise _refused(power_detail(short_value(b)))
    if a is not None and b is not None:
        if isinstance(op, ast.Add):
            return _number(a + b, built, steps)
        if isinstance(op, ast.Sub):
            return _number(a - b, built, steps)
        if isinstance(op, ast.Mult):
            if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
                raise _refused(NUMBER)
            return _number(a * b, built, steps)
        if isinstance(op, ast.Pow):
            try:
                result = power(Budget(), a, b)
            except OverBudget as exc:
                raise _refused(exc.detail) from None
            if isinstance(result, int):
                return _number(result, built, steps)
    if isinstance(op, ast.Mult):
        for seq, times in ((left, b), (right, a)):
            if seq.length is not None and times is not None:
                count = max(times, 0)
                if seq.length * count > MAX_REPEAT:
                    raise _refused(REPEAT)
                return _made(1 + count * (seq.size - 1), built, steps, seq.length * count, seq.kind)
    if isinstance(op, ast.Add) and left.kind is not None and left.kind is right.kind:
        assert left.length is not None and right.length is not None
        if left.length + right.length > MAX_CONCAT:
            raise _refused(CONCAT)
        length = left.length + right.length
        return _made(left.size + right.size - 1, built, steps, length, left.kind)
    return _Guess(built=built, steps=steps)


def _made(size: int, built: int, steps: int, length: int | None, kind: type | None) -> _Guess:
    """A value of ``size`` made by a part (charged as the evaluation would charge it)."""
    if size > MAX_ITEMS:
        raise _refused(ITEMS)
    if kind is str and size - 1 > MAX_TEXT:
        raise _refused(TEXT)
    return _Guess(size=size, built=built + size, steps=steps, length=length, kind=kind)


def _sequence(node: ast.List | ast.Tuple, parts: list[_Guess]) -> _Guess:
    size = 1 + sum(p.size for p in parts)
    built = sum(p.built for p in parts)
    steps = sum(p.steps for p in parts)
    kind = list if isinstance(node, ast.List) else tuple
    return _made(size, built, steps, len(parts), kind)


def _hashed(node: ast.Set | ast.Dict) -> _Guess:
    keys = _each(node.elts if isinstance(node, ast.Set) else [k for k in node.keys if k])
    values = _each(node.values) if isinstance(node, ast.Dict) else []
    parts = keys + values
    # Equal members collapse, so only the largest one is sure to be there; but hashing goes
    # through every member.
    size = 1 + max((p.size for p in parts), default=0)
    steps = sum(p.steps for p in parts) + sum(k.size for k in keys)
    return _made(size, sum(p.built for p in parts), steps, None, None)


def _fstring(node: ast.JoinedStr) -> _Guess:
    text, built, steps = 0, 0, 0
    for part in node.values:
        if isinstance(part, ast.FormattedValue):
            value = _guess(part.value)
            built, steps = built + value.built, steps + value.steps
            # Written out, a value is never shorter than its size less one.
            text += value.size - 1
        elif isinstance(part, ast.Constant) and isinstance(part.value, str):
            text += len(part.value)
    if text > MAX_TEXT:
        raise _refused(TEXT)
    return _made(1 + text, built, steps, None, None)


def _call(node: ast.Call) -> _Guess:
    args = _each(node.args)
    built = sum(a.built for a in args)
    steps = sum(a.steps for a in args) + sum(a.size for a in args)
    name = node.func.id if isinstance(node.func, ast.Name) else ""
    if name == "str" and len(args) == 1:
        if args[0].size - 1 > MAX_TEXT:
            raise _refused(TEXT)
        return _made(args[0].size, built, steps, None, None)
    if name in ("min", "max"):
        steps += sum(a.size for a in args)
    if name == "sorted" and len(args) == 1 and args[0].kind in (list, tuple):
        assert args[0].length is not None
        steps += args[0].size * (max(1, args[0].length.bit_length()) - 1)
        return _made(args[0].size, built, steps, args[0].length, list)
    return _Guess(built=built, steps=steps)
