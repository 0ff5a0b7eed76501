"""The built-in functions of the expression language (``len``, ``min``, ``round``…).

Each one checks what it is given and says what is wrong in a pack author's words ("round() needs
a number, not text") rather than with Python's own error; :func:`value_kind` is how a value is
named in those messages, here and in the interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from carepath.core.errors import ExpressionError
from carepath.core.expressions.language import MAX_NODES, MAX_ROUND_DIGITS

NUMBER_TYPES = (int, float, Decimal)
SEQUENCE_TYPES = (str, list, tuple)
CONTAINER_TYPES = (str, list, tuple, dict, set, frozenset, Mapping)


def value_kind(value: object) -> str:
    """How a value is named in messages to pack authors."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, NUMBER_TYPES):
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


def short_value(value: object) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool | None) else value_kind(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_number(value: object) -> bool:
    # Not a TypeGuard on purpose: callers keep Any, so mixed int/float/Decimal arithmetic is
    # left to Python (and its TypeError) rather than to mypy's operator tables.
    return isinstance(value, NUMBER_TYPES)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- built-in functions


_ARITY: dict[str, tuple[int, int]] = {
    "len": (1, 1), "abs": (1, 1), "round": (1, 2), "int": (1, 1), "float": (1, 1),
    "str": (1, 1), "bool": (1, 1), "any": (1, 1), "all": (1, 1), "sorted": (1, 1),
    "min": (1, MAX_NODES), "max": (1, MAX_NODES),
}


def check_arity(name: str, count: int) -> None:
    low, high = _ARITY[name]
    if not low <= count <= high:
        wanted = str(low) if low == high else f"{low} or {high}" if high == low + 1 else "1 or more"
        raise ExpressionError(f"{name}() takes {wanted} value{'s' if wanted != '1' else ''}")


def _iterable(name: str, value: Any) -> Any:
    if not isinstance(value, CONTAINER_TYPES):
        raise ExpressionError(f"{name}() needs a list, text or mapping, not {value_kind(value)}")
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
    return " with ".join(sorted({value_kind(v) for v in values}))


def _min(*args: Any) -> Any:
    return _extreme("min", min, args)


def _max(*args: Any) -> Any:
    return _extreme("max", max, args)


def _abs(value: Any) -> Any:
    if not isinstance(value, (*NUMBER_TYPES, timedelta)):
        raise ExpressionError(f"abs() needs a number, not {value_kind(value)}")
    return abs(value)


def _round(value: Any, digits: Any = None) -> Any:
    if not isinstance(value, NUMBER_TYPES):
        raise ExpressionError(f"round() needs a number, not {value_kind(value)}")
    if digits is None:
        return round(value)
    if not is_int(digits) or abs(digits) > MAX_ROUND_DIGITS:
        raise ExpressionError(f"round() takes a whole number of digits up to {MAX_ROUND_DIGITS}")
    return round(value, digits)


def _int(value: Any) -> int:
    if not isinstance(value, (*NUMBER_TYPES, str)):
        raise ExpressionError(f"int() needs a number or text, not {value_kind(value)}")
    try:
        return int(value)
    except (ValueError, OverflowError):
        raise ExpressionError(f"{short_value(value)} is not a whole number") from None


def _float(value: Any) -> float:
    if not isinstance(value, (*NUMBER_TYPES, str)):
        raise ExpressionError(f"float() needs a number or text, not {value_kind(value)}")
    try:
        return float(value)
    except (ValueError, OverflowError):
        raise ExpressionError(f"{short_value(value)} is not a number") from None


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


BUILTINS: dict[str, Callable[..., Any]] = {
    "len": _len, "min": _min, "max": _max, "abs": _abs, "round": _round, "int": _int,
    "float": _float, "str": _str, "bool": _bool, "any": _any, "all": _all, "sorted": _sorted,
}
