"""What the expression language allows, and the checks that refuse everything else.

Pack authors are not trusted to run code, so an expression is checked before a single node of it
runs: :func:`scan` bounds its size and depth and refuses ``_`` names, then :class:`Checker` refuses
the first node outside the allow-list. The limits here also bound what evaluation may build
(powers, repeats, long text) and the budget of one evaluation (:mod:`~.budget`; refused at
compile time where the literals already show it, :mod:`~.estimate`). The language is described
in ``docs/pack-authoring.md`` ("Expressions").
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from carepath.core.errors import UnsafeExpression

MAX_SOURCE_LENGTH = 2_000
MAX_NODES = 400
MAX_DEPTH = 40
MAX_EXPONENT = 100
# About 300 decimal digits: far beyond any real need, far below anything slow.
MAX_POWER_BITS = 1_000
# The longest list or text one '*' may make, and one '+' (or f-string, or str()).
MAX_REPEAT = 10_000
MAX_CONCAT = 100_000
MAX_ROUND_DIGITS = 100

# The budget of one evaluation (carepath.core.expressions.budget). Every value has a *size*,
# counted in full however Python stores it: 1 for a yes/no, date or small number, 1 plus the
# length of a text, 1 plus a quarter of the bits of a whole number, and for a list, tuple, set or
# mapping 1 plus the sizes of everything in it -- so ``[[0] * 10000] * 10000`` has size 10**8
# although Python shares the inner list. Each limit is far above what a real condition or
# deadline needs and low enough that hitting it takes well under a second and a few megabytes.
#
# Items built: the sum of the sizes of every list, tuple, set, mapping and text an evaluation
# makes (list displays, '*', '+', slices, sorted(), str(), f-strings).
MAX_ITEMS = 100_000
# Steps: one per part of the expression evaluated, plus the sizes of the values each comparison,
# 'in', hash, str(), f-string, len(), min(), max(), sorted()... works through (sorted() and
# min()/max() more, for the comparisons they make), charged before Python does that work.
MAX_STEPS = 1_000_000
# The longest text any step may make (the same as one '+' may make).
MAX_TEXT = MAX_CONCAT
# The largest whole number any step may make: about 1,200 decimal digits.
MAX_INT_BITS = 4_000
# The deepest nesting of lists and mappings an evaluation may go through (measuring is recursive,
# and Python's own str() and == are too); task data is a few levels deep.
MAX_VALUE_DEPTH = 100

BUILTIN_FUNCTIONS: frozenset[str] = frozenset(
    {"len", "min", "max", "abs", "round", "int", "float", "str", "bool", "any", "all", "sorted"}
)
# Provided by the host at evaluation time (timescales, runtime); allowed by default so that
# packs can be checked when they load, before any case exists.
DATE_FUNCTIONS: frozenset[str] = frozenset(
    {"working_days_after", "months_after", "days_after", "timer_date", "today"}
)
DEFAULT_FUNCTIONS: frozenset[str] = BUILTIN_FUNCTIONS | DATE_FUNCTIONS

Functions = Mapping[str, Callable[..., Any]]

# Node kinds that never run anything themselves; they are skipped when counting size and depth.
_MARKERS = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)

OPERATORS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitXor: "^", ast.BitAnd: "&", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=",
    ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
    ast.IsNot: "is not", ast.Invert: "~", ast.USub: "-", ast.UAdd: "+", ast.Not: "not",
}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def too_deep() -> str:
    return f"the expression is nested too deeply (at most {MAX_DEPTH} levels)"


def scan(tree: ast.Expression) -> None:
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
            raise UnsafeExpression(too_deep())
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


class Checker:
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
                raise UnsafeExpression(f"the '{OPERATORS[type(node.op)]}' operator is not allowed")
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
                    f"'{OPERATORS[type(op)]}' may only compare with None (as in 'x is None')"
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
