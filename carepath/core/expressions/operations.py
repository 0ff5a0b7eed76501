"""The operators of the expression language (arithmetic and comparisons), within a budget.

Each operator checks what it is given in a pack author's words and charges the evaluation's
:class:`~carepath.core.expressions.budget.Budget` before Python does the work: a repeat or join
by the size of what it would make, a comparison or ``in`` by the sizes of both sides.
"""

from __future__ import annotations

import ast
from typing import Any

from carepath.core.errors import ExpressionError, UnsafeExpression
from carepath.core.expressions.budget import (
    CONCAT,
    NUMBER,
    POWER_BITS,
    REPEAT,
    Budget,
    OverBudget,
    power_detail,
)
from carepath.core.expressions.builtins import (
    CONTAINER_TYPES,
    SEQUENCE_TYPES,
    is_int,
    is_number,
    short_value,
    value_kind,
)
from carepath.core.expressions.language import (
    MAX_CONCAT,
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_POWER_BITS,
    MAX_REPEAT,
    OPERATORS,
)


def compare(budget: Budget, op: ast.cmpop, left: Any, right: Any) -> bool:
    symbol = OPERATORS[type(op)]
    if isinstance(op, ast.Is):
        return left is right
    if isinstance(op, ast.IsNot):
        return left is not right
    # Comparing lists (or searching one) may go through every item of both sides.
    budget.work(budget.size(left) + budget.size(right))
    try:
        if isinstance(op, ast.Eq):
            return bool(left == right)
        if isinstance(op, ast.NotEq):
            return bool(left != right)
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, CONTAINER_TYPES):
                raise ExpressionError(f"cannot use '{symbol}' with {value_kind(right)} on the right")
            found = bool(left in right)
            return found if isinstance(op, ast.In) else not found
        if isinstance(op, ast.Lt):
            return bool(left < right)
        if isinstance(op, ast.LtE):
            return bool(left <= right)
        if isinstance(op, ast.Gt):
            return bool(left > right)
        if isinstance(op, ast.GtE):
            return bool(left >= right)
    except TypeError:
        raise ExpressionError(
            f"cannot compare {value_kind(left)} with {value_kind(right)} using '{symbol}'"
        ) from None
    raise UnsafeExpression(f"the '{symbol}' comparison is not allowed")


def binop(budget: Budget, op: ast.operator, left: Any, right: Any) -> Any:
    symbol = OPERATORS[type(op)]
    try:
        if isinstance(op, ast.Add):
            return _add(budget, left, right)
        if isinstance(op, ast.Sub):
            if isinstance(left, set | frozenset):
                # A set difference hashes every item of both sides.
                budget.walk(left, right)
                return budget.made(left - right)
            return budget.number(left - right)
        if isinstance(op, ast.Mult):
            return _multiply(budget, left, right)
        if isinstance(op, ast.Div):
            return left / right
        if isinstance(op, ast.FloorDiv):
            return budget.number(left // right)
        if isinstance(op, ast.Mod):
            # '%' on text is printf-style formatting, which is not part of the language.
            if not (is_number(left) and is_number(right)):
                raise ExpressionError(f"'%' works on numbers only, not {value_kind(left)}")
            return left % right
        if isinstance(op, ast.Pow):
            return power(budget, left, right)
    except ZeroDivisionError:
        raise ExpressionError("division by zero") from None
    except ArithmeticError:
        # Float overflow, and decimal's own signals (which are not all OverflowError).
        raise ExpressionError(f"the result of '{symbol}' is too large or undefined") from None
    except TypeError:
        raise ExpressionError(
            f"cannot use '{symbol}' with {value_kind(left)} and {value_kind(right)}"
        ) from None
    raise UnsafeExpression(f"the '{symbol}' operator is not allowed")


def _add(budget: Budget, left: Any, right: Any) -> Any:
    if isinstance(left, SEQUENCE_TYPES) and isinstance(right, SEQUENCE_TYPES):
        if len(left) + len(right) > MAX_CONCAT:
            raise OverBudget(CONCAT)
        size = budget.size(left) + budget.size(right) - 1
        budget.build(size)
        joined: Any = left  # mixed kinds fail in Python (TypeError), as they should
        return budget.remember(joined + right, size)
    return budget.number(left + right)


def _multiply(budget: Budget, left: Any, right: Any) -> Any:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, SEQUENCE_TYPES) and isinstance(times, int):
            count = max(times, 0)
            if len(seq) * count > MAX_REPEAT:
                raise OverBudget(REPEAT)
            # Counted in full: [[0] * 100] * 100 holds 10,000 items, though Python shares the
            # inner list; whatever walks it later walks them all.
            size = 1 + count * (budget.size(seq) - 1)
            budget.build(size)
            return budget.remember(left * right, size)
    if is_int(left) and is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
        raise OverBudget(NUMBER)
    return budget.number(left * right)


def power(budget: Budget, base: Any, exponent: Any) -> Any:
    """``base ** exponent``, refused before it is computed if the result would be too large.
    Also used on literal numbers when an expression is compiled."""
    if not (is_number(base) and is_number(exponent)):
        raise ExpressionError(f"cannot use '**' with {value_kind(base)} and {value_kind(exponent)}")
    if abs(exponent) > MAX_EXPONENT:
        raise OverBudget(power_detail(short_value(exponent)))
    # Bit length bounds the size of an integer power before it is computed.
    if is_int(base) and abs(base).bit_length() * abs(exponent) > MAX_POWER_BITS:
        raise OverBudget(POWER_BITS)
    result = base**exponent
    if isinstance(result, complex):
        raise ExpressionError("'**' would give a complex number")
    return budget.number(result)
