"""A person's age and birthdays, as the DfE returns count them. No I/O."""

from __future__ import annotations

from datetime import date

__all__ = ["age_on", "birthday"]


def age_on(born: date, day: date) -> int:
    """Full years of age on ``day`` (negative before ``born``)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def birthday(born: date, years: int) -> date:
    """The day someone born on ``born`` turns ``years`` (29 February: 1 March in other years)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)
