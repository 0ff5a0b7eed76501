"""The budget of one evaluation: how much an expression may build, and how much work it may cause.

An expression has no loops, so its own steps are few; what costs is the values it makes and what
Python does with them. ``[[0] * 10000] * 10000`` is two small lists to Python (the inner one is
shared), yet ``str()`` or ``==`` on it walks 10**8 items. So every value has a *size* counted in
full (``MAX_ITEMS`` in :mod:`carepath.core.expressions.language` says how), every value an
evaluation makes is charged to :attr:`Budget.items`, and whatever Python is about to walk is
charged to :attr:`Budget.steps` *before* Python is asked to walk it.

Sizes stay cheap: a value the evaluation makes gets its size from its parts as it is made ('*'
multiplies, '+' adds), and a container from the task data is walked once per evaluation. Sizes
past a few dozen are remembered by ``id`` for the rest of the evaluation, with the object kept
alive so that the id cannot be taken by another object. Nothing in the language changes a value
once made, and task data does not change while an expression is evaluated, so a remembered size
stays true.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from carepath.core.errors import UnsafeExpression
from carepath.core.expressions.language import (
    MAX_CONCAT,
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_ITEMS,
    MAX_POWER_BITS,
    MAX_REPEAT,
    MAX_STEPS,
    MAX_TEXT,
    MAX_VALUE_DEPTH,
)

T = TypeVar("T")

# A size past every limit: sizes stop growing here, so measuring a huge value stops early and the
# arithmetic on sizes stays small.
SATURATED = MAX_STEPS + 1
_CONTAINERS = (list, tuple, dict, set, frozenset)
# Containers up to this size are walked again when needed rather than remembered: walking them
# costs less than noting them, and they are the lists and tuples of ordinary conditions.
_REMEMBER_FROM = 64
# A decimal exponent past this makes a whole number over MAX_INT_BITS (log10(2) < 0.302).
_MAX_INT_EXPONENT = MAX_INT_BITS * 302 // 1000

# What an over-budget expression does, completing "the expression '…' …" (or "it …" when the
# expression is refused as it is compiled).
ITEMS = (
    f"builds more than {MAX_ITEMS:,} items (list items, mapping entries and characters of text, "
    "counted in full)"
)
STEPS = f"takes more than {MAX_STEPS:,} steps to work out"
TEXT = f"makes a text too long (over {MAX_TEXT:,} characters)"
NUMBER = (
    f"makes a number too large (over {MAX_INT_BITS:,} bits, about {_MAX_INT_EXPONENT:,} digits)"
)
REPEAT = f"makes a list or text too long with '*' (over {MAX_REPEAT:,} items)"
CONCAT = f"makes a list or text too long with '+' (over {MAX_CONCAT:,} items)"
POWER_BITS = f"makes a number too large with '**' (over {MAX_POWER_BITS:,} bits)"
DEEP = f"goes through values nested too deeply (over {MAX_VALUE_DEPTH} levels)"


def power_detail(exponent: str) -> str:
    return f"raises to a power that is too large ({exponent}; at most {MAX_EXPONENT})"


class OverBudget(UnsafeExpression):
    """An evaluation went over its budget. Raised inside the interpreter only:
    ``Expression.evaluate`` turns it into an :class:`UnsafeExpression` naming the expression and
    where it comes from. ``detail`` is one of the phrases above."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def over_budget_message(source: str, detail: str, origin: str | None) -> str:
    shown = " ".join(source.split())
    if len(shown) > 80:
        shown = shown[:77] + "..."
    where = f"{origin}: " if origin else ""
    return f"{where}the expression '{shown}' {detail}"


def scalar_size(value: Any) -> int | None:
    """The size of a value that holds no other values; None for a container."""
    kind = type(value)
    if kind is str:
        return 1 + len(value)
    if kind is int:
        return 1 + (int(value).bit_length() >> 2)
    if kind in _CONTAINERS or isinstance(value, Mapping | list | tuple | set | frozenset):
        return None
    if isinstance(value, str):
        return 1 + len(value)
    if isinstance(value, int):  # bool included: 1
        return 1 + (int(value).bit_length() >> 2)
    if isinstance(value, Decimal):
        return 1 + len(value.as_tuple().digits)
    return 1


class Budget:
    """What one evaluation has used so far. Each method raises :class:`OverBudget` when a limit
    would be passed."""

    __slots__ = ("_sizes", "items", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.items = 0
        # id -> (the object, its size); made on first need, as most evaluations need none.
        self._sizes: dict[int, tuple[Any, int]] | None = None

    # -- sizes --------------------------------------------------------------------------------

    def size(self, value: Any) -> int:
        """The full size of ``value`` (up to :data:`SATURATED`)."""
        kind = type(value)
        if kind is str:  # the commonest case first: conditions mostly compare texts
            return 1 + len(value)
        found = scalar_size(value)
        return self._container(value, 0) if found is None else found

    def _container(self, value: Any, depth: int) -> int:
        if depth > MAX_VALUE_DEPTH:
            raise OverBudget(DEEP)
        sizes = self._sizes
        if sizes is not None:
            known = sizes.get(id(value))
            if known is not None:
                return known[1]
        total = 1
        if isinstance(value, Mapping):
            for key, item in value.items():
                total += self._part(key, depth) + self._part(item, depth)
                if total >= SATURATED:
                    break
        else:
            for item in value:
                # Texts and small numbers inline: long lists in the task data are mostly these,
                # and a call per item would make measuring them several times slower.
                kind = type(item)
                if kind is str:
                    total += 1 + len(item)
                elif kind is int:
                    total += 1 + (item.bit_length() >> 2)
                else:
                    total += self._part(item, depth)
                if total >= SATURATED:
                    break
        total = min(total, SATURATED)
        self.remember(value, total)
        return total

    def _part(self, value: Any, depth: int) -> int:
        found = scalar_size(value)
        return self._container(value, depth + 1) if found is None else found

    def remember(self, value: T, size: int) -> T:
        """Note the size of a container (see ``_REMEMBER_FROM``)."""
        if size > _REMEMBER_FROM and scalar_size(value) is None:
            if self._sizes is None:
                self._sizes = {}
            self._sizes[id(value)] = (value, min(size, SATURATED))
        return value

    # -- charges ------------------------------------------------------------------------------

    def work(self, amount: int) -> None:
        """Charge ``amount`` steps (before doing them)."""
        self.steps += amount
        if self.steps > MAX_STEPS:
            raise OverBudget(STEPS)

    def build(self, size: int) -> None:
        """Charge a value of ``size`` about to be made."""
        self.items += size
        if self.items > MAX_ITEMS:
            raise OverBudget(ITEMS)

    def made(self, value: T, size: int | None = None) -> T:
        """Charge a value just made, and remember its size (worked out from its parts unless
        given)."""
        if isinstance(value, str):
            self.text(len(value))
        if size is None:
            size = self.size(value)
        else:
            self.remember(value, size)
        self.build(size)
        return value

    def walk(self, *values: Any) -> None:
        """Charge the steps of walking ``values`` in full (comparing, searching, hashing...)."""
        total = 0
        for value in values:
            total += self.size(value)
        self.work(total)

    @staticmethod
    def text(length: int) -> None:
        if length > MAX_TEXT:
            raise OverBudget(TEXT)

    def writing(self, value: Any) -> None:
        """Charge writing ``value`` as text (str(), f-strings) before it is written. Its text is
        never shorter than its size less one, so a size past the limit is refused unwritten."""
        size = self.size(value)
        if size - 1 > MAX_TEXT:
            raise OverBudget(TEXT)
        self.work(size)

    @staticmethod
    def number(value: T) -> T:
        """``value``, once checked not to be a whole number past the limit."""
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise OverBudget(NUMBER)
        return value

    @staticmethod
    def whole_number_from(value: Any) -> None:
        """Refuse a decimal whose whole part would be too large, before int() or round() makes
        it (``Decimal('1e100000')`` is a few bytes; its int is not)."""
        if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > _MAX_INT_EXPONENT:
            raise OverBudget(NUMBER)

    # -- the built-in functions ---------------------------------------------------------------

    def before_call(self, name: str, args: list[Any]) -> None:
        """Charge a built-in function for the values it is about to go through, in full."""
        if name == "str":
            self.writing(args[0])
            return
        if name in ("int", "round"):
            self.whole_number_from(args[0])
        total = 0
        for arg in args:
            total += self.size(arg)
        if name == "sorted":
            # A sort compares each item about log2(n) times.
            total *= max(1, _length(args[0]).bit_length())
        elif name in ("min", "max"):
            total *= 2
        self.work(total)

    def after_call(self, name: str, args: list[Any], result: T) -> T:
        if name == "str":
            return self.made(result)
        if name == "sorted":
            # A list, tuple or set sorts into the same items; a mapping gives its keys, a text
            # its characters (worked out from the result).
            same = isinstance(args[0], list | tuple | set | frozenset)
            return self.made(result, self.size(args[0]) if same else None)
        return self.number(result)


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0
