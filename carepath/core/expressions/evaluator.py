"""Compiled expressions and the interpreter that evaluates them.

:func:`compile_expression` parses the source with :mod:`ast` and has it checked
(:mod:`carepath.core.expressions.language`) before anything runs; the :class:`Expression` it
returns interprets the checked tree itself, never through Python's ``eval``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from carepath.core.errors import CarepathError, ExpressionError, UnsafeExpression
from carepath.core.expressions.builtins import (
    BUILTINS,
    CONTAINER_TYPES,
    NUMBER_TYPES,
    SEQUENCE_TYPES,
    check_arity,
    is_int,
    is_number,
    short_value,
    value_kind,
)
from carepath.core.expressions.language import (
    BUILTIN_FUNCTIONS,
    DEFAULT_FUNCTIONS,
    MAX_CONCAT,
    MAX_EXPONENT,
    MAX_POWER_BITS,
    MAX_REPEAT,
    MAX_SOURCE_LENGTH,
    OPERATORS,
    Checker,
    Functions,
    scan,
    too_deep,
)

_VALUE_TYPES = (
    type(None), bool, int, float, Decimal, str, date, time, timedelta,
    list, tuple, dict, set, frozenset, Mapping,
)


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to evaluate any number of times.

    ``names`` are the top-level names it reads (``cp_plan`` for ``cp_plan.start``); ``paths`` the
    dotted names (``cp_plan.start``, or ``outcome`` for a plain name).
    """

    source: str
    names: frozenset[str]
    paths: frozenset[str]
    functions: frozenset[str] = field(repr=False)
    tree: ast.Expression = field(repr=False, compare=False)

    def evaluate(self, names: Mapping[str, Any], functions: Functions | None = None) -> Any:
        """The value of the expression over ``names``. ``functions`` implements the callable
        names beyond the built-ins (``working_days_after``…). Raises :class:`ExpressionError`
        (or :class:`UnsafeExpression`) and nothing else."""
        try:
            return _Evaluator(names, functions or {}).eval(self.tree.body)
        except CarepathError:
            raise
        except RecursionError:
            raise ExpressionError(f"'{self.source}' is nested too deeply") from None
        except Exception as exc:
            # A gap in the checks below must still surface as a plain message, not a traceback.
            raise ExpressionError(
                f"'{self.source}' could not be worked out ({type(exc).__name__})"
            ) from None


def compile_expression(source: str, functions: Collection[str] | None = None) -> Expression:
    """Parse and check ``source``. ``functions`` names what may be called besides the built-ins;
    by default the date functions. Raises :class:`UnsafeExpression` for anything outside the
    language and :class:`ExpressionError` for text that is not an expression at all."""
    allowed = DEFAULT_FUNCTIONS if functions is None else BUILTIN_FUNCTIONS | frozenset(functions)
    return compile_allowing(source, allowed)


def compile_allowing(source: str, allowed: frozenset[str]) -> Expression:
    # Checked before the cache, which would fail on unhashable input with a raw TypeError.
    if not isinstance(source, str):
        raise ExpressionError(f"an expression must be text, not {type(source).__name__}")
    return _compile_text(source, allowed)


@lru_cache(maxsize=4096)
def _compile_text(source: str, allowed: frozenset[str]) -> Expression:
    if len(source) > MAX_SOURCE_LENGTH:
        raise UnsafeExpression(
            f"the expression is too long ({len(source)} characters; at most {MAX_SOURCE_LENGTH})"
        )
    if not source.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        if "too many nested" in str(exc.msg):
            raise UnsafeExpression(too_deep()) from None
        where = f" (at character {exc.offset})" if exc.offset else ""
        raise ExpressionError(f"'{source}' is not a valid expression: {exc.msg}{where}") from None
    except (RecursionError, MemoryError):
        raise UnsafeExpression(too_deep()) from None
    except ValueError as exc:  # e.g. null bytes, on Python versions that do not say SyntaxError
        raise ExpressionError(f"'{source}' is not a valid expression: {exc}") from None
    scan(tree)
    checker = Checker(allowed)
    checker.check(tree.body)
    return Expression(
        source=source,
        names=frozenset(checker.names),
        paths=frozenset(checker.paths),
        functions=allowed,
        tree=tree,
    )


def evaluate(source: str, names: Mapping[str, Any], functions: Functions | None = None) -> Any:
    """Compile (cached) and evaluate ``source`` in one go."""
    allowed = DEFAULT_FUNCTIONS if functions is None else BUILTIN_FUNCTIONS | frozenset(functions)
    return compile_allowing(source, allowed).evaluate(names, functions)


def names_in(source: str) -> frozenset[str]:
    """The top-level names ``source`` reads (for lint). Raises like :func:`compile_expression`."""
    return compile_expression(source).names


# --------------------------------------------------------------------------- evaluation


def _checked(value: Any, where: str) -> Any:
    # Values come from trusted task data and records, but an object of some other class could
    # carry methods an operator would run; refusing it keeps the interpreter's behaviour known.
    if isinstance(value, _VALUE_TYPES):
        return value
    kind = type(value).__name__
    raise ExpressionError(f"'{where}' has a value of type {kind}, which expressions cannot use")


class _Evaluator:
    def __init__(self, names: Mapping[str, Any], functions: Functions) -> None:
        self.names = names
        self.functions = functions

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return _binop(node.op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.List):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.eval(e) for e in node.elts)
        if isinstance(node, ast.Set):
            return self._hashing(lambda: {self.eval(e) for e in node.elts})
        if isinstance(node, ast.Dict):
            keys = [self.eval(k) for k in node.keys if k is not None]
            values = [self.eval(v) for v in node.values]
            return self._hashing(lambda: dict(zip(keys, values, strict=True)))
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node)
        raise UnsafeExpression(f"{type(node).__name__} is not allowed in an expression")

    def _name(self, name: str) -> Any:
        try:
            value = self.names[name]
        except KeyError:
            raise ExpressionError(f"'{name}' is not defined") from None
        return _checked(value, name)

    def _attribute(self, node: ast.Attribute) -> Any:
        owner = self.eval(node.value)
        path = ast.unparse(node)
        if not isinstance(owner, Mapping):
            raise UnsafeExpression(
                f"'{path}' is not allowed: only record names such as 'cp_plan.start' have parts"
            )
        try:
            value = owner[node.attr]
        except KeyError:
            raise ExpressionError(f"'{path}' is not defined") from None
        return _checked(value, path)

    def _boolop(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for part in node.values:
            value = self.eval(part)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _unary(self, node: ast.UnaryOp) -> Any:
        operand = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        if not isinstance(operand, (*NUMBER_TYPES, timedelta)):
            raise ExpressionError(
                f"cannot use '{OPERATORS[type(node.op)]}' with {value_kind(operand)}"
            )
        return -operand if isinstance(node.op, ast.USub) else +operand

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not _compare(op, left, right):
                return False
            left = right
        return True

    def _call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):
            raise UnsafeExpression("only functions called by name are allowed")
        name = node.func.id
        args = [self.eval(arg) for arg in node.args]
        builtin = BUILTINS.get(name)
        if builtin is not None:
            check_arity(name, len(args))
            return builtin(*args)
        function = self.functions.get(name)
        if function is None:
            raise ExpressionError(f"'{name}' is not available here")
        try:
            return function(*args)
        except CarepathError:
            raise
        except Exception as exc:
            raise ExpressionError(f"{name}() failed: {exc}") from None

    def _subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        where = ast.unparse(node)
        if isinstance(node.slice, ast.Slice):
            if not isinstance(container, SEQUENCE_TYPES):
                raise ExpressionError(f"cannot take a slice of {value_kind(container)} in '{where}'")
            bounds = [
                None if part is None else self.eval(part)
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            ]
            if not all(b is None or is_int(b) for b in bounds):
                raise ExpressionError(f"slice bounds must be whole numbers in '{where}'")
            if bounds[2] == 0:
                raise ExpressionError(f"a slice step cannot be zero in '{where}'")
            return container[slice(*bounds)]
        key = self.eval(node.slice)
        if isinstance(container, SEQUENCE_TYPES):
            if not is_int(key):
                raise ExpressionError(f"a position in {value_kind(container)} must be a whole number")
            if not -len(container) <= key < len(container):
                raise ExpressionError(f"position {key} is out of range in '{where}'")
            return _checked(container[key], where)
        if isinstance(container, Mapping):
            try:
                return _checked(container[key], where)
            except KeyError:
                owner = ast.unparse(node.value)
                raise ExpressionError(f"{short_value(key)} is not in '{owner}'") from None
            except TypeError:
                raise ExpressionError(f"{value_kind(key)} cannot be a key, in '{where}'") from None
        raise ExpressionError(f"cannot look inside {value_kind(container)} in '{where}'")

    def _fstring(self, node: ast.JoinedStr) -> str:
        pieces: list[str] = []
        size = 0
        for part in node.values:
            value = self.eval(part.value if isinstance(part, ast.FormattedValue) else part)
            piece = value if isinstance(value, str) else format(value, "")
            size += len(piece)
            if size > MAX_CONCAT:
                raise ExpressionError(f"the text would be too long (over {MAX_CONCAT} characters)")
            pieces.append(piece)
        return "".join(pieces)

    @staticmethod
    def _hashing(build: Callable[[], Any]) -> Any:
        try:
            return build()
        except TypeError:
            raise ExpressionError("lists and mappings cannot be set members or keys") from None


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    symbol = OPERATORS[type(op)]
    try:
        if isinstance(op, ast.Eq):
            return bool(left == right)
        if isinstance(op, ast.NotEq):
            return bool(left != right)
        if isinstance(op, ast.Is):
            return left is right
        if isinstance(op, ast.IsNot):
            return left is not right
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


def _binop(op: ast.operator, left: Any, right: Any) -> Any:
    symbol = OPERATORS[type(op)]
    try:
        if isinstance(op, ast.Add):
            if (
                isinstance(left, SEQUENCE_TYPES)
                and isinstance(right, SEQUENCE_TYPES)
                and len(left) + len(right) > MAX_CONCAT
            ):
                raise ExpressionError(
                    f"the result of '+' would be too long (over {MAX_CONCAT} items)"
                )
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, SEQUENCE_TYPES)
                    and isinstance(times, int)
                    and len(seq) * max(times, 0) > MAX_REPEAT
                ):
                    raise ExpressionError(
                        f"the result of '*' would be too long (over {MAX_REPEAT} items)"
                    )
            return left * right
        if isinstance(op, ast.Div):
            return left / right
        if isinstance(op, ast.FloorDiv):
            return left // right
        if isinstance(op, ast.Mod):
            # '%' on text is printf-style formatting, which is not part of the language.
            if not (is_number(left) and is_number(right)):
                raise ExpressionError(f"'%' works on numbers only, not {value_kind(left)}")
            return left % right
        if isinstance(op, ast.Pow):
            return _power(left, right)
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


def _power(base: Any, exponent: Any) -> Any:
    if not (is_number(base) and is_number(exponent)):
        raise ExpressionError(f"cannot use '**' with {value_kind(base)} and {value_kind(exponent)}")
    if abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(f"the power {short_value(exponent)} is too large (at most {MAX_EXPONENT})")
    # Bit length bounds the size of an integer power before it is computed.
    if is_int(base) and abs(base).bit_length() * abs(exponent) > MAX_POWER_BITS:
        raise ExpressionError("the result of '**' would be too large")
    result = base**exponent
    if isinstance(result, complex):
        raise ExpressionError("'**' would give a complex number")
    return result
