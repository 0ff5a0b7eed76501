"""Dates for simulated stories: months, days of the week, lengths drawn from published shares.
No I/O."""

from __future__ import annotations

import calendar as _calendar
import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TypeVar

from carepath.engine.simulation.rates import REFERRAL_HOLIDAY, REFERRAL_WEEKDAY
from carepath.engine.time.working_days import WorkingDayCalendar

T = TypeVar("T")

_MOST = max(REFERRAL_WEEKDAY)


def pick(rng: random.Random, weights: dict[T, float]) -> T:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def pick_many(rng: random.Random, weights: dict[str, float], count: int,
              exclude: Sequence[str] = ()) -> list[str]:
    pool = {k: v for k, v in weights.items() if k not in exclude}
    out: list[str] = []
    while pool and len(out) < count:
        choice = pick(rng, pool)
        out.append(choice)
        del pool[choice]
    return out


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    last = _calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def referral_weight(cal: WorkingDayCalendar, day: date) -> float:
    """How likely a referral is on ``day``, relative to the other days of the week."""
    weight = REFERRAL_WEEKDAY[day.weekday()]
    if day.weekday() < 5 and not cal.is_working_day(day):
        weight = REFERRAL_HOLIDAY
    return weight


def referral_day(rng: random.Random, cal: WorkingDayCalendar, start: date, end: date) -> date:
    """A referral date from ``start`` to ``end`` (inclusive): every day can have referrals,
    weekdays far more than weekends and holidays (``REFERRAL_WEEKDAY``)."""
    span = (end - start).days
    day = start
    for _ in range(100):
        day = start + timedelta(days=rng.randrange(span + 1))
        if rng.random() * _MOST < referral_weight(cal, day):
            return day
    return day


def days_from(rng: random.Random, bands: dict[tuple[int, int], float]) -> int:
    """A number from one of the bands (chosen by weight), evenly within it."""
    low, high = pick(rng, bands)
    return rng.randint(low, high)
