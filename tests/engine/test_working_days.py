"""England working days: weekends, bank holidays (including substitute days) and closure days.

Expected dates are worked out by hand in the comments, from the published England and Wales
bank holidays (gov.uk): 2025-12-25, 2025-12-26, 2026-01-01, 2026-04-03 (Good Friday),
2026-04-06 (Easter Monday), 2026-12-25, 2026-12-28 (Boxing Day substitute).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from carepath.engine.time.working_days import (
    MAX_WORKING_DAYS,
    WorkingDayCalendar,
    england_bank_holidays,
)

D = date
CAL = WorkingDayCalendar()


def test_bank_holidays_come_from_the_holidays_package_offline() -> None:
    assert england_bank_holidays(2025) == {
        D(2025, 1, 1), D(2025, 4, 18), D(2025, 4, 21), D(2025, 5, 5), D(2025, 5, 26),
        D(2025, 8, 25), D(2025, 12, 25), D(2025, 12, 26),
    }  # fmt: skip
    assert {D(2026, 4, 3), D(2026, 4, 6), D(2026, 12, 28)} <= england_bank_holidays(2026)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2025, 3, 3), True),  # Monday
        (D(2025, 3, 7), True),  # Friday
        (D(2025, 3, 8), False),  # Saturday
        (D(2025, 3, 9), False),  # Sunday
        (D(2025, 12, 24), True),
        (D(2025, 12, 25), False),
        (D(2025, 12, 26), False),
        (D(2026, 1, 1), False),
        (D(2026, 4, 3), False),  # Good Friday
        (D(2026, 4, 6), False),  # Easter Monday
        (D(2026, 12, 28), False),  # Monday: substitute for Boxing Day on a Saturday
        (D(2026, 12, 29), True),
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # Ordinary weeks: Mon 3 Mar 2025 + 5 = Mon 10 Mar; Fri + 1 = Mon; Sat + 1 = Mon.
        (D(2025, 3, 3), 1, D(2025, 3, 4)),
        (D(2025, 3, 3), 5, D(2025, 3, 10)),
        (D(2025, 3, 7), 1, D(2025, 3, 10)),
        (D(2025, 3, 8), 1, D(2025, 3, 10)),
        (D(2025, 3, 9), 5, D(2025, 3, 14)),
        (D(2025, 3, 3), 10, D(2025, 3, 17)),
        # Christmas 2025: Dec 16-19 (4), 22-24 (7), 25-26 off, 29-31 (10), Jan 1 off,
        # Jan 2 (11), 5-8 (15).
        (D(2025, 12, 15), 15, D(2026, 1, 8)),
        (D(2025, 12, 24), 1, D(2025, 12, 29)),
        (D(2025, 12, 31), 1, D(2026, 1, 2)),
        # Easter 2026: Thu 2 Apr + 1 skips Good Friday, the weekend and Easter Monday.
        (D(2026, 4, 2), 1, D(2026, 4, 7)),
        (D(2026, 4, 1), 3, D(2026, 4, 8)),
        # Christmas 2026: Fri 25 Dec, Sat 26 Dec, Mon 28 Dec substitute.
        (D(2026, 12, 24), 1, D(2026, 12, 29)),
        # Zero is the day itself, working or not.
        (D(2025, 3, 8), 0, D(2025, 3, 8)),
        (D(2025, 12, 25), 0, D(2025, 12, 25)),
        # Negative counts go back: the same walk in the other direction.
        (D(2026, 1, 8), -15, D(2025, 12, 15)),
        (D(2025, 3, 10), -1, D(2025, 3, 7)),
        (D(2026, 4, 7), -1, D(2026, 4, 2)),
        (D(2025, 3, 8), -1, D(2025, 3, 7)),
    ],
)
def test_add_working_days(start: date, count: int, expected: date) -> None:
    assert CAL.add_working_days(start, count) == expected


def test_closure_days_are_skipped() -> None:
    # With 29 and 30 Dec 2025 closed: 16-19 (4), 22-24 (7), 31 (8), Jan 2 (9), 5-9 (14), 12 (15).
    calendar = WorkingDayCalendar([D(2025, 12, 29), D(2025, 12, 30)])
    assert calendar.add_working_days(D(2025, 12, 15), 15) == D(2026, 1, 12)
    assert not calendar.is_working_day(D(2025, 12, 29))
    assert calendar.next_working_day(D(2025, 12, 24)) == D(2025, 12, 31)
    assert calendar.working_days_between(D(2025, 12, 15), D(2026, 1, 12)) == 15
    # A closure day on a bank holiday or a weekend changes nothing.
    overlap = WorkingDayCalendar([D(2025, 12, 25), D(2025, 12, 27)])
    assert overlap.add_working_days(D(2025, 12, 15), 15) == D(2026, 1, 8)
    assert overlap.working_days_between(D(2025, 12, 15), D(2026, 1, 8)) == 15


def test_next_working_day_is_strictly_after() -> None:
    assert CAL.next_working_day(D(2025, 3, 3)) == D(2025, 3, 4)
    assert CAL.next_working_day(D(2025, 3, 7)) == D(2025, 3, 10)
    assert CAL.next_working_day(D(2026, 4, 2)) == D(2026, 4, 7)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2025, 3, 3), D(2025, 3, 3), 0),
        (D(2025, 3, 4), D(2025, 3, 3), 0),
        (D(2025, 3, 3), D(2025, 3, 4), 1),
        (D(2025, 3, 7), D(2025, 3, 10), 1),  # Fri to Mon
        (D(2025, 3, 8), D(2025, 3, 9), 0),  # Sat to Sun
        (D(2025, 3, 3), D(2025, 3, 31), 20),  # four whole weeks
        (D(2025, 12, 15), D(2026, 1, 8), 15),
        (D(2025, 12, 24), D(2025, 12, 28), 0),  # 25, 26 holidays; 27, 28 weekend
        (D(2026, 4, 2), D(2026, 4, 7), 1),
        # 2025 has 261 weekdays (52 weeks and Wed 31 Dec), 8 of them bank holidays; Jan 1 is
        # one of those, and so is 1 Jan 2026.
        (D(2025, 1, 1), D(2026, 1, 1), 253),
    ],
)
def test_working_days_between(start: date, end: date, expected: int) -> None:
    assert CAL.working_days_between(start, end) == expected


def test_between_and_add_agree_over_two_years() -> None:
    calendar = WorkingDayCalendar([D(2025, 12, 29), D(2026, 6, 1)])
    start = D(2025, 1, 1)
    for offset in range(0, 730, 3):
        day = start + timedelta(days=offset)
        for n in (1, 15, 45):
            due = calendar.add_working_days(day, n)
            assert calendar.working_days_between(day, due) == n
            assert calendar.working_days_between(day, due - timedelta(days=1)) == n - 1
            assert calendar.is_working_day(due)


def _busday_count(calendar: WorkingDayCalendar, start: date, end: date) -> int:
    """numpy.busday_count's convention: working days in [start, end)."""
    return sum(
        calendar.is_working_day(start + timedelta(days=i)) for i in range((end - start).days)
    )


def test_agrees_with_the_dfe_validators_counting() -> None:
    # The DfE CIN validator (cin_validator/utils.py) counts with numpy/pandas business days over
    # England holidays: `england_working_days(n)` is CustomBusinessDay(n - 1), because pandas
    # "doesn't include the end date". Rule 8675Q flags an S47 with no ICPC when
    #     S47ActualStartDate < ReferenceDate - england_working_days(15)
    # i.e. when the start is before the 14th working day before the reference date.
    reference = D(2026, 3, 31)  # a Tuesday; no bank holidays in March 2026
    threshold = CAL.add_working_days(reference, -14)  # what pandas gives for 31 Mar - 14 BD
    assert threshold == D(2026, 3, 11)
    # So it flags exactly the enquiries whose 15th working day has been reached by the
    # reference date, which is our "15 working days from the start".
    for offset in range(40):
        start = D(2026, 2, 1) + timedelta(days=offset)
        flagged = start < threshold
        assert flagged == (CAL.add_working_days(start, 15) <= reference), start
        assert flagged == (CAL.working_days_between(start, reference) >= 15), start
    assert CAL.add_working_days(D(2026, 3, 10), 15) == reference

    # busday_count counts [start, end); ours counts (start, end]. Between working days they
    # agree, including across Christmas.
    for start, end in [(D(2025, 12, 15), D(2026, 1, 8)), (D(2026, 3, 31), D(2026, 4, 14))]:
        assert _busday_count(CAL, start, end) == CAL.working_days_between(start, end)
    assert CAL.working_days_between(D(2026, 3, 31), D(2026, 4, 14)) == 8  # Easter in between


def test_bad_counts_are_refused() -> None:
    with pytest.raises(TypeError):
        CAL.add_working_days(D(2025, 3, 3), 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CAL.add_working_days(D(2025, 3, 3), True)
    with pytest.raises(ValueError, match="too many"):
        CAL.add_working_days(D(2025, 3, 3), MAX_WORKING_DAYS + 1)
    # (Mon 3 Mar 2025, Mon 2 Mar 2026] holds 52 weeks: 260 weekdays less 8 bank holidays = 252;
    # 3, 4, 5, 6, 9, 10, 11, 12 Mar 2026 make 260.
    assert CAL.add_working_days(D(2025, 3, 3), 260) == D(2026, 3, 12)
