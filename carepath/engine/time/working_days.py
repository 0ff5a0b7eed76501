"""Working days in England: Monday to Friday, not a bank holiday, not a council closure day.

Bank holidays come from the ``holidays`` package, which computes them offline (Easter, substitute
days, one-off holidays such as coronations), so no network or data file is needed.

"N working days from D" is the N-th working day *after* D: D itself never counts. This matches the
DfE CIN census validator, which flags an enquiry "started more than 15 working days before" the
census end exactly when its 15th working day after the start falls on or before that end.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays

# A working-day count beyond this is a mistake in a pack or a record (it is over 38 years), and
# walking that far day by day would tie up a request.
MAX_WORKING_DAYS = 10_000
_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=256)
def england_bank_holidays(year: int) -> frozenset[date]:
    """England's bank holidays in ``year`` (including substitute days)."""
    calendar = holidays.country_holidays("GB", subdiv="ENG", years=year)
    return frozenset(calendar.keys())


@lru_cache(maxsize=256)
def _bank_holiday_names(year: int) -> tuple[tuple[date, str], ...]:
    calendar = holidays.country_holidays("GB", subdiv="ENG", years=year)
    # GOV.UK calls an "observed" bank holiday a substitute day.
    return tuple(sorted((day, str(name).replace("(observed)", "(substitute day)"))
                        for day, name in calendar.items()))


def england_bank_holiday_names(year: int) -> dict[date, str]:
    """England's bank holidays in ``year`` with their names ("Christmas Day", "Boxing Day
    (substitute day)")."""
    return dict(_bank_holiday_names(year))


class WorkingDayCalendar:
    """England's working days, less a council's own closure days."""

    def __init__(self, closure_days: Iterable[date] = ()) -> None:
        self.closure_days: frozenset[date] = frozenset(closure_days)

    def __repr__(self) -> str:
        return f"WorkingDayCalendar({len(self.closure_days)} closure days)"

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() < 5
            and day not in self.closure_days
            and day not in england_bank_holidays(day.year)
        )

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (before it, for a negative count);
        ``day`` itself for 0, whether or not it is a working day."""
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"a number of working days must be a whole number, not {count!r}")
        if abs(count) > MAX_WORKING_DAYS:
            raise ValueError(f"{count} working days is too many (at most {MAX_WORKING_DAYS})")
        step = _ONE_DAY if count > 0 else -_ONE_DAY
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def next_working_day(self, day: date) -> date:
        """The first working day after ``day`` (never ``day`` itself)."""
        return self.add_working_days(day, 1)

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days fall after ``start``, up to and including ``end``; 0 when
        ``end`` is not after ``start``. ``add_working_days(start, n) <= end`` exactly when
        this is at least ``n``."""
        if end <= start:
            return 0
        total = 0
        # Whole weeks hold five weekdays each; only their bank holidays and closures need a look.
        whole_weeks, extra_days = divmod((end - start).days, 7)
        if whole_weeks:
            span_end = start + timedelta(weeks=whole_weeks)
            total += 5 * whole_weeks - self._days_off_in(start, span_end)
            start = span_end
        for offset in range(1, extra_days + 1):
            if self.is_working_day(start + timedelta(days=offset)):
                total += 1
        return total

    def _days_off_in(self, start: date, end: date) -> int:
        """Weekdays in (start, end] that are bank holidays or closure days."""
        off = set(self.closure_days)
        for year in range(start.year, end.year + 1):
            off |= england_bank_holidays(year)
        return sum(1 for day in off if start < day <= end and day.weekday() < 5)
