"""The safe expression language of packs, and the Spiff script environment that uses it.

Pack authors are not trusted to run code, so expressions are never handed to Python's
``eval``/``exec``: :func:`compile_expression` parses the source with :mod:`ast`, refuses anything
outside a small allow-list before a single node runs, and :class:`Expression` interprets the
tree itself. The language is described in ``docs/pack-authoring.md`` ("Expressions").
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.script_engine import (
    BasePythonScriptEngineEnvironment,
    PythonScriptEngine,
)

from carepath.engine.errors import CarepathError, ExpressionError, UnsafeExpression

MAX_SOURCE_LENGTH = 2_000
MAX_NODES = 400
MAX_DEPTH = 40
MAX_EXPONENT = 100
# About 300 decimal digits: far beyond any real need, far below anything slow.
MAX_POWER_BITS = 1_000
MAX_REPEAT = 10_000
MAX_CONCAT = 100_000
MAX_ROUND_DIGITS = 100

BUILTIN_FUNCTIONS: frozenset[str] = frozenset(
    {"len", "min", "max", "abs", "round", "int", "float", "str", "bool", "any", "all", "sorted"}
)
# Provided by the host at evaluation time (timescales, runtime); allowed by default so that
# packs can be checked when they load, before any case exists.
DATE_FUNCTIONS: frozenset[str] = frozenset(
    {"working_days_after", "months_after", "days_after", "timer_date", "today"}
)
DEFAULT_FUNCTIONS: frozenset[str] = BUILTIN_FUNCTIONS | DATE_FUNCTIONS

_Functions = Mapping[str, Callable[..., Any]]

# Node kinds that never run anything themselves; they are skipped when counting size and depth.
_MARKERS = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)

_OPERATORS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitXor: "^", ast.BitAnd: "&", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=",
    ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
    ast.IsNot: "is not", ast.Invert: "~", ast.USub: "-", ast.UAdd: "+", ast.Not: "not",
}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)

_VALUE_TYPES = (
    type(None), bool, int, float, Decimal, str, date, time, timedelta,
    list, tuple, dict, set, frozenset, Mapping,
)
_NUMBER_TYPES = (int, float, Decimal)
_SEQUENCE_TYPES = (str, list, tuple)
_CONTAINER_TYPES = (str, list, tuple, dict, set, frozenset, Mapping)


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

    def evaluate(self, names: Mapping[str, Any], functions: _Functions | None = None) -> Any:
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
    return _compile(source, allowed)


def _compile(source: str, allowed: frozenset[str]) -> Expression:
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
            raise UnsafeExpression(_too_deep()) from None
        where = f" (at character {exc.offset})" if exc.offset else ""
        raise ExpressionError(f"'{source}' is not a valid expression: {exc.msg}{where}") from None
    except (RecursionError, MemoryError):
        raise UnsafeExpression(_too_deep()) from None
    except ValueError as exc:  # e.g. null bytes, on Python versions that do not say SyntaxError
        raise ExpressionError(f"'{source}' is not a valid expression: {exc}") from None
    _scan(tree)
    checker = _Checker(allowed)
    checker.check(tree.body)
    return Expression(
        source=source,
        names=frozenset(checker.names),
        paths=frozenset(checker.paths),
        functions=allowed,
        tree=tree,
    )


def evaluate(source: str, names: Mapping[str, Any], functions: _Functions | None = None) -> Any:
    """Compile (cached) and evaluate ``source`` in one go."""
    allowed = DEFAULT_FUNCTIONS if functions is None else BUILTIN_FUNCTIONS | frozenset(functions)
    return _compile(source, allowed).evaluate(names, functions)


def names_in(source: str) -> frozenset[str]:
    """The top-level names ``source`` reads (for lint). Raises like :func:`compile_expression`."""
    return compile_expression(source).names


def _too_deep() -> str:
    return f"the expression is nested too deeply (at most {MAX_DEPTH} levels)"


def _scan(tree: ast.Expression) -> None:
    """Size, depth and '_' names, checked before anything else looks at the tree.

    Iterative, so that a pathological tree cannot exhaust the Python stack while being measured;
    the recursive checker and evaluator only ever see trees that passed. '_' names are refused
    here so that an escape is reported by its dunder, whatever else is wrong with it.
    """
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _MARKERS):
            continue
        count += 1
        if depth > MAX_DEPTH:
            raise UnsafeExpression(_too_deep())
        if count > MAX_NODES:
            raise UnsafeExpression(f"the expression is too large (at most {MAX_NODES} parts)")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise _underscore(node.id)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise _underscore(node.attr)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


# --------------------------------------------------------------------------- static checks


def _underscore(name: str) -> UnsafeExpression:
    return UnsafeExpression(f"'{name}' is not allowed: names starting with '_' are refused")


def _dotted(node: ast.expr) -> list[str] | None:
    """``['cp_plan', 'start']`` for ``cp_plan.start``; None when the chain does not start at a
    plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    return parts


_REFUSED: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda expressions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.NamedExpr: "assignment expressions (':=') are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}


class _Checker:
    """Walks a parsed expression and raises :class:`UnsafeExpression` at the first node outside
    the allow-list; collects the names and dotted paths read on the way."""

    def __init__(self, functions: frozenset[str]) -> None:
        self.functions = functions
        self.names: set[str] = set()
        self.paths: set[str] = set()

    def check(self, node: ast.expr) -> None:
        refused = _REFUSED.get(type(node))
        if refused is not None:
            raise UnsafeExpression(refused)
        if isinstance(node, ast.Constant):
            self._constant(node.value)
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise _underscore(node.id)
            self.names.add(node.id)
            self.paths.add(node.id)
        elif isinstance(node, ast.Attribute):
            self._attribute(node)
        elif isinstance(node, ast.BoolOp):
            self._all(node.values)
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Invert):
                raise UnsafeExpression("the '~' operator is not allowed")
            self.check(node.operand)
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _ARITHMETIC):
                raise UnsafeExpression(f"the '{_OPERATORS[type(node.op)]}' operator is not allowed")
            self.check(node.left)
            self.check(node.right)
        elif isinstance(node, ast.Compare):
            self._compare(node)
        elif isinstance(node, ast.IfExp):
            self._all((node.test, node.body, node.orelse))
        elif isinstance(node, ast.Call):
            self._call(node)
        elif isinstance(node, ast.Subscript):
            self.check(node.value)
            self.check(node.slice)
        elif isinstance(node, ast.Slice):
            self._all(part for part in (node.lower, node.upper, node.step) if part is not None)
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            self._all(node.elts)
        elif isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                raise UnsafeExpression("'**' unpacking is not allowed")
            self._all(key for key in node.keys if key is not None)
            self._all(node.values)
        elif isinstance(node, ast.JoinedStr):
            self._fstring(node)
        else:
            raise UnsafeExpression(f"{type(node).__name__} is not allowed in an expression")

    def _all(self, nodes: Iterable[ast.expr]) -> None:
        for child in nodes:
            self.check(child)

    @staticmethod
    def _constant(value: object) -> None:
        if isinstance(value, bytes):
            raise UnsafeExpression("bytes literals are not allowed")
        if isinstance(value, complex):
            raise UnsafeExpression("complex numbers are not allowed")
        if value is Ellipsis:
            raise UnsafeExpression("'...' is not allowed")

    def _attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            raise _underscore(node.attr)
        parts = _dotted(node)
        if parts is None:
            self.check(node.value)
            return
        for part in parts:
            if part.startswith("_"):
                raise _underscore(part)
        self.names.add(parts[0])
        self.paths.add(".".join(parts))

    def _compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if isinstance(op, ast.Is | ast.IsNot) and not any(
                isinstance(side, ast.Constant) and side.value is None
                for side in (operands[i], operands[i + 1])
            ):
                raise UnsafeExpression(
                    f"'{_OPERATORS[type(op)]}' may only compare with None (as in 'x is None')"
                )
        self._all(operands)

    def _call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id.startswith("_"):
                raise _underscore(func.id)
            if func.id not in self.functions:
                raise UnsafeExpression(f"calling '{func.id}' is not allowed")
        elif isinstance(func, ast.Attribute):
            raise UnsafeExpression(
                f"method calls are not allowed: '{ast.unparse(func)}(…)'"
            )
        else:
            self.check(func)
            raise UnsafeExpression("only functions called by name are allowed")
        for keyword in node.keywords:
            if keyword.arg is None:
                raise UnsafeExpression("'**' unpacking is not allowed")
            raise UnsafeExpression(f"keyword arguments are not allowed ('{keyword.arg}=')")
        self._all(node.args)

    def _fstring(self, node: ast.JoinedStr) -> None:
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if part.conversion != -1:
                    raise UnsafeExpression(
                        "conversions in f-strings ('!r', '!s', '!a') are not allowed"
                    )
                if part.format_spec is not None:
                    raise UnsafeExpression("format specifications in f-strings are not allowed")
                self.check(part.value)
            else:
                self.check(part)


# --------------------------------------------------------------------------- evaluation


def _kind(value: object) -> str:
    """How a value is named in messages to pack authors."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, _NUMBER_TYPES):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime):
        return "date and time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, set | frozenset):
        return "set"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


def _short(value: object) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool | None) else _kind(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _checked(value: Any, where: str) -> Any:
    # Values come from trusted task data and records, but an object of some other class could
    # carry methods an operator would run; refusing it keeps the interpreter's behaviour known.
    if isinstance(value, _VALUE_TYPES):
        return value
    kind = type(value).__name__
    raise ExpressionError(f"'{where}' has a value of type {kind}, which expressions cannot use")


def _is_number(value: object) -> bool:
    # Not a TypeGuard on purpose: callers keep Any, so mixed int/float/Decimal arithmetic is
    # left to Python (and its TypeError) rather than to mypy's operator tables.
    return isinstance(value, _NUMBER_TYPES)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Evaluator:
    def __init__(self, names: Mapping[str, Any], functions: _Functions) -> None:
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
        if not isinstance(operand, (*_NUMBER_TYPES, timedelta)):
            raise ExpressionError(
                f"cannot use '{_OPERATORS[type(node.op)]}' with {_kind(operand)}"
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
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            _check_arity(name, len(args))
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
            if not isinstance(container, _SEQUENCE_TYPES):
                raise ExpressionError(f"cannot take a slice of {_kind(container)} in '{where}'")
            bounds = [
                None if part is None else self.eval(part)
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            ]
            if not all(b is None or _is_int(b) for b in bounds):
                raise ExpressionError(f"slice bounds must be whole numbers in '{where}'")
            if bounds[2] == 0:
                raise ExpressionError(f"a slice step cannot be zero in '{where}'")
            return container[slice(*bounds)]
        key = self.eval(node.slice)
        if isinstance(container, _SEQUENCE_TYPES):
            if not _is_int(key):
                raise ExpressionError(f"a position in {_kind(container)} must be a whole number")
            if not -len(container) <= key < len(container):
                raise ExpressionError(f"position {key} is out of range in '{where}'")
            return _checked(container[key], where)
        if isinstance(container, Mapping):
            try:
                return _checked(container[key], where)
            except KeyError:
                owner = ast.unparse(node.value)
                raise ExpressionError(f"{_short(key)} is not in '{owner}'") from None
            except TypeError:
                raise ExpressionError(f"{_kind(key)} cannot be a key, in '{where}'") from None
        raise ExpressionError(f"cannot look inside {_kind(container)} in '{where}'")

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
    symbol = _OPERATORS[type(op)]
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
            if not isinstance(right, _CONTAINER_TYPES):
                raise ExpressionError(f"cannot use '{symbol}' with {_kind(right)} on the right")
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
            f"cannot compare {_kind(left)} with {_kind(right)} using '{symbol}'"
        ) from None
    raise UnsafeExpression(f"the '{symbol}' comparison is not allowed")


def _binop(op: ast.operator, left: Any, right: Any) -> Any:
    symbol = _OPERATORS[type(op)]
    try:
        if isinstance(op, ast.Add):
            if (
                isinstance(left, _SEQUENCE_TYPES)
                and isinstance(right, _SEQUENCE_TYPES)
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
                    isinstance(seq, _SEQUENCE_TYPES)
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
            if not (_is_number(left) and _is_number(right)):
                raise ExpressionError(f"'%' works on numbers only, not {_kind(left)}")
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
            f"cannot use '{symbol}' with {_kind(left)} and {_kind(right)}"
        ) from None
    raise UnsafeExpression(f"the '{symbol}' operator is not allowed")


def _power(base: Any, exponent: Any) -> Any:
    if not (_is_number(base) and _is_number(exponent)):
        raise ExpressionError(f"cannot use '**' with {_kind(base)} and {_kind(exponent)}")
    if abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(f"the power {_short(exponent)} is too large (at most {MAX_EXPONENT})")
    # Bit length bounds the size of an integer power before it is computed.
    if _is_int(base) and abs(base).bit_length() * abs(exponent) > MAX_POWER_BITS:
        raise ExpressionError("the result of '**' would be too large")
    result = base**exponent
    if isinstance(result, complex):
        raise ExpressionError("'**' would give a complex number")
    return result


# --------------------------------------------------------------------------- built-in functions


_ARITY: dict[str, tuple[int, int]] = {
    "len": (1, 1), "abs": (1, 1), "round": (1, 2), "int": (1, 1), "float": (1, 1),
    "str": (1, 1), "bool": (1, 1), "any": (1, 1), "all": (1, 1), "sorted": (1, 1),
    "min": (1, MAX_NODES), "max": (1, MAX_NODES),
}


def _check_arity(name: str, count: int) -> None:
    low, high = _ARITY[name]
    if not low <= count <= high:
        wanted = str(low) if low == high else f"{low} or {high}" if high == low + 1 else "1 or more"
        raise ExpressionError(f"{name}() takes {wanted} value{'s' if wanted != '1' else ''}")


def _iterable(name: str, value: Any) -> Any:
    if not isinstance(value, _CONTAINER_TYPES):
        raise ExpressionError(f"{name}() needs a list, text or mapping, not {_kind(value)}")
    return value


def _len(value: Any) -> int:
    return len(_iterable("len", value))


def _extreme(name: str, pick: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    values = list(_iterable(name, args[0])) if len(args) == 1 else list(args)
    if not values:
        raise ExpressionError(f"{name}() of an empty list")
    try:
        return pick(values)
    except TypeError:
        raise ExpressionError(f"{name}() cannot compare {_kinds(values)}") from None


def _kinds(values: Iterable[Any]) -> str:
    return " with ".join(sorted({_kind(v) for v in values}))


def _min(*args: Any) -> Any:
    return _extreme("min", min, args)


def _max(*args: Any) -> Any:
    return _extreme("max", max, args)


def _abs(value: Any) -> Any:
    if not isinstance(value, (*_NUMBER_TYPES, timedelta)):
        raise ExpressionError(f"abs() needs a number, not {_kind(value)}")
    return abs(value)


def _round(value: Any, digits: Any = None) -> Any:
    if not isinstance(value, _NUMBER_TYPES):
        raise ExpressionError(f"round() needs a number, not {_kind(value)}")
    if digits is None:
        return round(value)
    if not _is_int(digits) or abs(digits) > MAX_ROUND_DIGITS:
        raise ExpressionError(f"round() takes a whole number of digits up to {MAX_ROUND_DIGITS}")
    return round(value, digits)


def _int(value: Any) -> int:
    if not isinstance(value, (*_NUMBER_TYPES, str)):
        raise ExpressionError(f"int() needs a number or text, not {_kind(value)}")
    try:
        return int(value)
    except (ValueError, OverflowError):
        raise ExpressionError(f"{_short(value)} is not a whole number") from None


def _float(value: Any) -> float:
    if not isinstance(value, (*_NUMBER_TYPES, str)):
        raise ExpressionError(f"float() needs a number or text, not {_kind(value)}")
    try:
        return float(value)
    except (ValueError, OverflowError):
        raise ExpressionError(f"{_short(value)} is not a number") from None


def _str(value: Any) -> str:
    try:
        return value if isinstance(value, str) else format(value, "")
    except ValueError:
        raise ExpressionError("the number is too long to write as text") from None


def _bool(value: Any) -> bool:
    return bool(value)


def _any(value: Any) -> bool:
    return any(_iterable("any", value))


def _all(value: Any) -> bool:
    return all(_iterable("all", value))


def _sorted(value: Any) -> list[Any]:
    items = _iterable("sorted", value)
    try:
        return sorted(items)
    except TypeError:
        raise ExpressionError(f"sorted() cannot compare {_kinds(items)}") from None


_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": _len, "min": _min, "max": _max, "abs": _abs, "round": _round, "int": _int,
    "float": _float, "str": _str, "bool": _bool, "any": _any, "all": _all, "sorted": _sorted,
}


# --------------------------------------------------------------------------- SpiffWorkflow


class SafeScriptEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Spiff's script environment with our evaluator in place of ``eval``/``exec``.

    Every expression Spiff evaluates (gateway conditions, timer definitions, loop and
    multi-instance conditions, data-object conditions) comes through :meth:`evaluate`.
    """

    def __init__(self, functions: _Functions | None = None) -> None:
        super().__init__({})
        self.functions: dict[str, Callable[..., Any]] = dict(functions or {})
        self.allowed = BUILTIN_FUNCTIONS | frozenset(self.functions)

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        names = _Overlay(context, external_context) if external_context else context
        return _compile(expression, self.allowed).evaluate(names, self.functions)

    def execute(
        self,
        script: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        raise UnsafeExpression("scripts are not allowed in carepath packs")

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        raise UnsafeExpression("service tasks are not allowed in carepath packs")


class _Overlay(Mapping[str, Any]):
    """Task data over external context (data objects), as in Spiff's own environment, without
    copying either on every evaluation."""

    def __init__(self, top: Mapping[str, Any], below: Mapping[str, Any]) -> None:
        self.top = top
        self.below = below

    def __getitem__(self, key: str) -> Any:
        return self.top[key] if key in self.top else self.below[key]

    def __iter__(self) -> Iterator[str]:
        yield from self.top
        yield from (key for key in self.below if key not in self.top)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class SafeScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """Spiff's script engine over :class:`SafeScriptEnvironment`.

    Spiff's own engine wraps every error in ``WorkflowTaskException("Error evaluating expression
    …")`` and keeps only the class name of ours; here our errors pass through unchanged (with a
    note naming the task), so a user sees "'outcome' is not defined".
    """

    environment: SafeScriptEnvironment

    def __init__(self, functions: _Functions | None = None) -> None:
        super().__init__(environment=SafeScriptEnvironment(functions))

    def validate(self, expression: str) -> None:
        _compile(expression, self.environment.allowed)

    def evaluate(
        self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except CarepathError as exc:
            exc.add_note(f"while evaluating {expression!r} for {_task_name(task)}")
            raise

    def execute(
        self, task: Any, script: str, external_context: Mapping[str, Any] | None = None
    ) -> bool:
        raise UnsafeExpression(f"scripts are not allowed in carepath packs ({_task_name(task)})")

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise UnsafeExpression(
            f"service tasks are not allowed in carepath packs ({_task_name(task)})"
        )


def _task_name(task: Any) -> str:
    spec = getattr(task, "task_spec", None)
    name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or "a task"
    return f"'{name}'"


def safe_script_engine(functions: _Functions | None = None) -> PythonScriptEngine:
    """A Spiff script engine that evaluates with this module and refuses every script.
    Attach it to every workflow, including after each deserialisation (Spiff does not store it)."""
    return SafeScriptEngine(functions)
