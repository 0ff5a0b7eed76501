"""``timescales.yaml``: a pack's named deadlines, computed from record dates.

Format (``docs/pack-authoring.md``, "Timescales")::

    closure_days: [2025-12-29, 2025-12-30]
    timescales:
      assessment: {title: Assessment, working_days: 45, from: referral.date}
      first_review: {title: First review conference, months: 3, from: s47.icpc_date}
      cp_review: {title: Review conference,
                  expression: "months_after(cp_plan.last_review, 6) if cp_plan.last_review
                               else months_after(cp_plan.start, 3)"}

A deadline counted from a date the record does not hold yet is unknown (None), not an error:
the date functions give None when given None, so an expression over unset dates does the same.
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from carepath.core.errors import ExpressionError, PackError
from carepath.core.expressions.evaluator import Expression, compile_expression
from carepath.core.record_items import CONTEXT_DATES, RECORD_NAMESPACES, record_read_problem
from carepath.engine.time.working_days import WorkingDayCalendar

TimescaleKind = Literal["working_days", "months", "days", "expression"]

KINDS: tuple[TimescaleKind, ...] = ("working_days", "months", "days", "expression")
TIMESCALE_FUNCTIONS: frozenset[str] = frozenset(
    {"working_days_after", "months_after", "days_after"}
)
_ENTRY_KEYS = ("title", *KINDS, "from")
_TOP_KEYS = ("closure_days", "timescales")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Timescale:
    name: str
    title: str
    kind: TimescaleKind
    amount: int | None
    from_path: str | None
    expression: Expression | None
    line: int


def months_after(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (earlier if negative), clipped to the end of
    a shorter month: 31 January + 1 month is 28 (or 29) February."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise ValueError(f"{months} months after {day.isoformat()} is beyond the calendar")
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


class Timescales:
    """A pack's deadlines, with the working-day calendar they are counted in."""

    def __init__(
        self,
        items: Mapping[str, Timescale] | None = None,
        closure_days: Iterable[date] = (),
        file: str = "timescales.yaml",
    ) -> None:
        self.items: dict[str, Timescale] = dict(items or {})
        self.closure_days: tuple[date, ...] = tuple(sorted(set(closure_days)))
        self.calendar = WorkingDayCalendar(self.closure_days)
        self.file = file
        self._functions = _date_functions(self.calendar)

    def __repr__(self) -> str:
        return f"Timescales({sorted(self.items)}, {len(self.closure_days)} closure days)"

    def functions(self) -> dict[str, Callable[..., Any]]:
        """The date functions pack expressions may call, counting in this calendar."""
        return dict(self._functions)

    def due(self, name: str, context: Mapping[str, Any]) -> date | None:
        """When timescale ``name`` falls due for a case whose record reads as ``context``
        (namespaces such as ``{"s47": {"start": ...}}``); None while its start date is unset."""
        timescale = self.items.get(name)
        if timescale is None:
            raise PackError(f"there is no timescale '{name}'", self.file)
        if timescale.expression is not None:
            result = timescale.expression.evaluate(context, self._functions)
            if result is None:
                return None
            if not isinstance(result, date):
                raise ExpressionError(
                    f"the expression of timescale '{name}' gave {type(result).__name__}, not a date"
                )
            return result.date() if isinstance(result, datetime) else result
        path, amount = timescale.from_path, timescale.amount
        if path is None or amount is None:
            raise PackError(f"timescale '{name}' has no start date", self.file, timescale.line)
        start = _as_date(_read(context, path), path)
        if start is None:
            return None
        try:
            if timescale.kind == "working_days":
                return self.calendar.add_working_days(start, amount)
            if timescale.kind == "months":
                return months_after(start, amount)
            return start + timedelta(days=amount)
        except (ValueError, OverflowError):
            raise ExpressionError(f"timescale '{name}' falls beyond the calendar") from None


def _read(context: Mapping[str, Any], path: str) -> Any:
    namespace, _, key = path.partition(".")
    values = context.get(namespace)
    if not isinstance(values, Mapping):
        return None
    return values.get(key)


def _as_date(value: Any, what: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        # Dates in Spiff task data are ISO text once a workflow has been through JSON.
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    shown = repr(value) if isinstance(value, str) else type(value).__name__
    raise ExpressionError(f"{what} needs a date, not {shown}")


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExpressionError(f"{what} needs a whole number, not {value!r}")
    return value


def _date_functions(calendar: WorkingDayCalendar) -> dict[str, Callable[..., Any]]:
    def working_days_after(day: Any, count: Any) -> date | None:
        start = _as_date(day, "working_days_after()")
        n = _count(count, "working_days_after()")
        if start is None:
            return None
        try:
            return calendar.add_working_days(start, n)
        except (ValueError, OverflowError) as exc:
            raise ExpressionError(f"working_days_after(): {exc}") from None

    def months_after_(day: Any, count: Any) -> date | None:
        start = _as_date(day, "months_after()")
        n = _count(count, "months_after()")
        if start is None:
            return None
        try:
            return months_after(start, n)
        except (ValueError, OverflowError):
            raise ExpressionError("months_after(): the date falls beyond the calendar") from None

    def days_after(day: Any, count: Any) -> date | None:
        start = _as_date(day, "days_after()")
        n = _count(count, "days_after()")
        if start is None:
            return None
        try:
            return start + timedelta(days=n)
        except (ValueError, OverflowError):
            raise ExpressionError("days_after(): the date falls beyond the calendar") from None

    return {
        "working_days_after": working_days_after,
        "months_after": months_after_,
        "days_after": days_after,
    }


# --------------------------------------------------------------------------- parsing


def _line(data: Any, key: str | None = None) -> int | None:
    if key is not None and hasattr(data, "line_of"):
        line = data.line_of(key)
        return int(line) if line else None
    line = getattr(data, "line", None)
    return int(line) if line else None


def _choices(values: Iterable[str]) -> str:
    items = sorted(values)
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


def parse_timescales(
    data: Any, file: str, extra_closure_days: Iterable[date] = ()
) -> Timescales:
    """Timescales from ``timescales.yaml`` as loaded by :func:`~carepath.core.yamlsource.
    load_yaml`. An empty or missing file (None) means none. Raises :class:`PackError` naming the
    file and line of the first problem."""
    extra = tuple(extra_closure_days)
    if data is None:
        return Timescales({}, extra, file)
    if not isinstance(data, Mapping):
        raise PackError(
            "timescales.yaml must be a mapping with 'closure_days' and 'timescales'",
            file,
            _line(data),
        )
    for key in data:
        if key not in _TOP_KEYS:
            raise PackError(
                f"unknown key '{key}'; use {_choices(_TOP_KEYS)}", file, _line(data, key)
            )
    closure_days = _closure_days(data.get("closure_days"), file, _line(data, "closure_days"))
    entries = data.get("timescales")
    items: dict[str, Timescale] = {}
    if entries is not None:
        if not isinstance(entries, Mapping):
            raise PackError(
                "'timescales' must map each timescale's name to its definition",
                file,
                _line(data, "timescales"),
            )
        for name, entry in entries.items():
            items[name] = _timescale(str(name), entry, file, _line(entries, name))
    return Timescales(items, (*closure_days, *extra), file)


def _closure_days(value: Any, file: str, line: int | None) -> list[date]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PackError("closure_days must be a list of dates such as 2025-12-29", file, line)
    days: list[date] = []
    for item in value:
        day: date | None = None
        if isinstance(item, date) and not isinstance(item, datetime):
            day = item
        elif isinstance(item, str):
            try:
                day = date.fromisoformat(item.strip())
            except ValueError:
                day = None
        if day is None:
            raise PackError(
                f"closure day {item!r} is not a date; write dates as 2025-12-29", file, line
            )
        days.append(day)
    return days


def _timescale(name: str, entry: Any, file: str, line: int | None) -> Timescale:
    if not _NAME.match(name):
        raise PackError(
            f"'{name}' is not a timescale name: "
            "use letters, digits and '_', starting with a letter",
            file,
            line,
        )
    if not isinstance(entry, Mapping):
        raise PackError(
            f"timescale '{name}' must be a mapping such as "
            "{title: Assessment, working_days: 45, from: referral.date}",
            file,
            line,
        )

    def where(key: str | None = None) -> int | None:
        # A problem with the whole entry is reported on the line of its name.
        return (_line(entry, key) or line) if key is not None and key in entry else line

    for key in entry:
        if key not in _ENTRY_KEYS:
            raise PackError(
                f"unknown key '{key}' in timescale '{name}'; use {_choices(_ENTRY_KEYS)}",
                file,
                where(key),
            )
    title = entry.get("title")
    if not isinstance(title, str) or not title.strip():
        raise PackError(f"timescale '{name}' needs a title", file, where("title"))
    kinds = [kind for kind in KINDS if kind in entry]
    if not kinds:
        raise PackError(
            f"timescale '{name}' needs one of {_choices(KINDS)}", file, where()
        )
    if len(kinds) > 1:
        raise PackError(
            f"timescale '{name}' has both '{kinds[0]}' and '{kinds[1]}'; give only one",
            file,
            where(kinds[1]),
        )
    kind = kinds[0]
    if kind == "expression":
        if "from" in entry:
            raise PackError(
                f"timescale '{name}' has an expression, so 'from' is not used; "
                "name the dates in the expression",
                file,
                where("from"),
            )
        expression = _expression(name, entry.get("expression"), file, where("expression"))
        return Timescale(name, title.strip(), kind, None, None, expression, line or 0)
    amount = entry.get(kind)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise PackError(
            f"{kind} of timescale '{name}' must be a whole number of 1 or more, not {amount!r}",
            file,
            where(kind),
        )
    if "from" not in entry:
        raise PackError(
            f"timescale '{name}' needs 'from': the record date it counts from, "
            f"one of {_choices(CONTEXT_DATES)}",
            file,
            where(),
        )
    from_path = entry.get("from")
    if not isinstance(from_path, str) or from_path not in CONTEXT_DATES:
        raise PackError(
            f"'from: {from_path}' is not a record date; use one of {_choices(CONTEXT_DATES)}",
            file,
            where("from"),
        )
    return Timescale(name, title.strip(), kind, amount, from_path, None, line or 0)


def _expression(name: str, source: Any, file: str, line: int | None) -> Expression:
    if not isinstance(source, str) or not source.strip():
        raise PackError(f"the expression of timescale '{name}' must be text", file, line)
    try:
        expression = compile_expression(source, TIMESCALE_FUNCTIONS).at(file, line)
    except ExpressionError as exc:
        raise PackError(
            f"the expression of timescale '{name}' is refused: {exc.message}", file, line
        ) from None
    problem = record_read_problem(expression.paths)
    if problem is not None:
        raise PackError(f"the expression of timescale '{name}' reads {problem}", file, line)
    unknown = sorted(expression.names - RECORD_NAMESPACES)
    if unknown:
        raise PackError(
            f"the expression of timescale '{name}' reads '{unknown[0]}', "
            f"which is not a record name; use record dates such as {_choices(CONTEXT_DATES)}",
            file,
            line,
        )
    return expression
