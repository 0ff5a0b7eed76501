"""Compiled expressions and the interpreter that evaluates them.

:func:`compile_expression` parses the source with :mod:`ast` and has it checked
(:mod:`carepath.core.expressions.language`) and estimated (:mod:`~.estimate`: a part that is too
large on its face is refused) before anything runs; the :class:`Expression` it returns interprets
the checked tree itself, never through Python's ``eval``, within a budget of work and size
(:mod:`~.budget`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from carepath.core.errors import CarepathError, ExpressionError, UnsafeExpression
from carepath.core.expressions.budget import (
    ITEMS,
    TEXT,
    Budget,
    OverBudget,
    over_budget_message,
)
from carepath.core.expressions.builtins import (
    BUILTINS,
    NUMBER_TYPES,
    SEQUENCE_TYPES,
    check_arity,
    is_int,
    short_value,
    value_kind,
)
from carepath.core.expressions.estimate import estimate
from carepath.core.expressions.language import (
    BUILTIN_FUNCTIONS,
    DEFAULT_FUNCTIONS,
    MAX_CONCAT,
    MAX_ITEMS,
    MAX_SOURCE_LENGTH,
    OPERATORS,
    Checker,
    Functions,
    scan,
    too_deep,
)
from carepath.core.expressions.operations import binop, compare

_VALUE_TYPES = (
    type(None), bool, int, float, Decimal, str, date, time, timedelta,
    list, tuple, dict, set, frozenset, Mapping,
)


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to evaluate any number of times.

    ``names`` are the top-level names it reads (``cp_plan`` for ``cp_plan.start``); ``paths`` the
    dotted names (``cp_plan.start``, or ``outcome`` for a plain name). ``origin`` says where the
    expression was written ("forms/plan.yaml:12"), for errors found while evaluating it; it
    plays no part in equality (compiled expressions are shared between places).
    """

    source: str
    names: frozenset[str]
    paths: frozenset[str]
    functions: frozenset[str] = field(repr=False)
    tree: ast.Expression = field(repr=False, compare=False)
    origin: str | None = field(default=None, compare=False)

    def at(self, file: str | None, line: int | None = None) -> Expression:
        """The same expression, noted as written at ``file``:``line`` (as :class:`PackError`
        names places)."""
        if not file:
            return self
        return replace(self, origin=f"{file}:{line}" if line else file)

    def evaluate(
        self,
        names: Mapping[str, Any],
        functions: Functions | None = None,
        origin: str | None = None,
    ) -> Any:
        """The value of the expression over ``names``. ``functions`` implements the callable
        names beyond the built-ins (``working_days_after``…); ``origin`` overrides
        :attr:`origin`. Raises :class:`ExpressionError` (or :class:`UnsafeExpression`, which is
        also what going over the budget of one evaluation raises) and nothing else."""
        try:
            return _Evaluator(names, functions or {}).eval(self.tree.body)
        except OverBudget as exc:
            raise UnsafeExpression(
                over_budget_message(self.source, exc.detail, origin or self.origin)
            ) from None
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
    estimate(tree.body)
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


def _checked(value: Any, where: str | ast.AST) -> Any:
    # Values come from trusted task data and records, but an object of some other class could
    # carry methods an operator would run; refusing it keeps the interpreter's behaviour known.
    # (``where`` is written out only for the message: unparsing on every read would cost more
    # than the read.)
    if isinstance(value, _VALUE_TYPES):
        return value
    kind = type(value).__name__
    shown = where if isinstance(where, str) else ast.unparse(where)
    raise ExpressionError(f"'{shown}' has a value of type {kind}, which expressions cannot use")


class _Evaluator:
    """One evaluation: the names it reads, the functions it may call, and its budget."""

    def __init__(self, names: Mapping[str, Any], functions: Functions) -> None:
        self.names = names
        self.functions = functions
        self.budget = Budget()

    def eval(self, node: ast.expr) -> Any:
        # No loops in the language: each part runs at most once, so counting parts is cheap
        # insurance rather than the bound itself (that is in what the parts charge).
        self.budget.steps += 1
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
            return binop(self.budget, node.op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.List):
            return self.budget.made([self.eval(e) for e in node.elts])
        if isinstance(node, ast.Tuple):
            return self.budget.made(tuple(self.eval(e) for e in node.elts))
        if isinstance(node, ast.Set):
            members = [self.eval(e) for e in node.elts]
            self.budget.walk(*members)  # hashing each member goes through all of it
            return self.budget.made(self._hashing(lambda: set(members)))
        if isinstance(node, ast.Dict):
            keys = [self.eval(k) for k in node.keys if k is not None]
            values = [self.eval(v) for v in node.values]
            self.budget.walk(*keys)
            return self.budget.made(self._hashing(lambda: dict(zip(keys, values, strict=True))))
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
        if not isinstance(owner, Mapping):
            raise UnsafeExpression(
                f"'{ast.unparse(node)}' is not allowed: only record names such as "
                "'cp_plan.start' have parts"
            )
        try:
            value = owner[node.attr]
        except KeyError:
            raise ExpressionError(f"'{ast.unparse(node)}' is not defined") from None
        return _checked(value, node)

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
            if not compare(self.budget, op, left, right):
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
            self.budget.before_call(name, args)
            return self.budget.after_call(name, args, builtin(*args))
        function = self.functions.get(name)
        if function is None:
            raise ExpressionError(f"'{name}' is not available here")
        # The host's functions (dates) bound their own work; what they are given is walked.
        self.budget.walk(*args)
        try:
            return function(*args)
        except CarepathError:
            raise
        except Exception as exc:
            raise ExpressionError(f"{name}() failed: {exc}") from None

    def _subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        if isinstance(node.slice, ast.Slice):
            return self._slice(container, node.slice, node)
        key = self.eval(node.slice)
        if isinstance(container, SEQUENCE_TYPES):
            if not is_int(key):
                raise ExpressionError(f"a position in {value_kind(container)} must be a whole number")
            if not -len(container) <= key < len(container):
                raise ExpressionError(f"position {key} is out of range in '{ast.unparse(node)}'")
            return _checked(container[key], node)
        if isinstance(container, Mapping):
            self.budget.walk(key)  # looking a key up hashes all of it
            try:
                return _checked(container[key], node)
            except KeyError:
                owner = ast.unparse(node.value)
                raise ExpressionError(f"{short_value(key)} is not in '{owner}'") from None
            except TypeError:
                raise ExpressionError(
                    f"{value_kind(key)} cannot be a key, in '{ast.unparse(node)}'"
                ) from None
        raise ExpressionError(f"cannot look inside {value_kind(container)} in '{ast.unparse(node)}'")

    def _slice(self, container: Any, part: ast.Slice, node: ast.Subscript) -> Any:
        if not isinstance(container, SEQUENCE_TYPES):
            raise ExpressionError(
                f"cannot take a slice of {value_kind(container)} in '{ast.unparse(node)}'"
            )
        bounds = [
            None if bound is None else self.eval(bound)
            for bound in (part.lower, part.upper, part.step)
        ]
        if not all(b is None or is_int(b) for b in bounds):
            raise ExpressionError(f"slice bounds must be whole numbers in '{ast.unparse(node)}'")
        if bounds[2] == 0:
            raise ExpressionError(f"a slice step cannot be zero in '{ast.unparse(node)}'")
        chosen = slice(*bounds)
        # Every item is at least 1: a slice longer than the budget is refused before Python
        # copies it (a slice of a long list in the task data would otherwise be copied first).
        if len(range(*chosen.indices(len(container)))) >= MAX_ITEMS:
            raise OverBudget(TEXT if isinstance(container, str) else ITEMS)
        return self.budget.made(container[chosen])

    def _fstring(self, node: ast.JoinedStr) -> str:
        pieces: list[str] = []
        size = 0
        for part in node.values:
            value = self.eval(part.value if isinstance(part, ast.FormattedValue) else part)
            if isinstance(value, str):
                piece = value
            else:
                self.budget.writing(value)
                piece = format(value, "")
            size += len(piece)
            if size > MAX_CONCAT:
                raise OverBudget(TEXT)
            pieces.append(piece)
        return self.budget.made("".join(pieces))

    @staticmethod
    def _hashing(build: Callable[[], Any]) -> Any:
        try:
            return build()
        except TypeError:
            raise ExpressionError("lists and mappings cannot be set members or keys") from None
