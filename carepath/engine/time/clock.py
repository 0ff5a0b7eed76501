"""The one clock carepath reads, so that tests, stories and demos can move time.

Everything that needs "now" or "today" calls :func:`current_clock` (or :func:`today`); nothing
calls ``datetime.now`` directly. The clock lives in a context variable with a process-wide default,
so a test or a story run can swap it for its own code only (:func:`use_clock`).
SpiffWorkflow reads the wall clock inside its timer module; :func:`install_spiff_clock` points
that module at this clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
WORKDAY_START = 9  # FixedClock.set_date lands at 09:00 London time, inside a working day


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _aware_utc(moment)

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta

    def set_date(self, day: date) -> None:
        """Move to 09:00 London time on ``day`` (the UTC offset follows summer time)."""
        local = datetime(day.year, day.month, day.day, WORKDAY_START, tzinfo=LONDON)
        self._now = local.astimezone(UTC)

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive datetime is ambiguous (server time? London?), so it is refused outright.
        raise ValueError(f"{moment!r} has no time zone; give a timezone-aware datetime")
    return moment.astimezone(UTC)


_default_clock: Clock = SystemClock()
_clock: ContextVar[Clock | None] = ContextVar("carepath_clock", default=None)


def current_clock() -> Clock:
    """The clock of this context: the one given to :func:`use_clock`, else the default."""
    clock = _clock.get()
    return clock if clock is not None else _default_clock


def set_default_clock(clock: Clock) -> None:
    """Replace the process-wide default clock (e.g. a demo server running on a fixed date)."""
    global _default_clock
    _default_clock = clock


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Run a block with ``clock`` as the current clock of this context."""
    token = _clock.set(clock)
    try:
        yield clock
    finally:
        _clock.reset(token)


def now() -> datetime:
    """The current moment (UTC) from the current clock."""
    return current_clock().now()


def today() -> date:
    """Today's date in England (Europe/London), from the current clock."""
    return current_clock().now().astimezone(LONDON).date()


# --------------------------------------------------------------------------- SpiffWorkflow


class _DatetimeType(type):
    # Spiff's timer module checks `isinstance(x, datetime)` with the patched name; any datetime
    # (not just instances of the subclass below) must still pass.
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, datetime)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, datetime)


class ClockDatetime(datetime, metaclass=_DatetimeType):
    """``datetime`` as Spiff's timer module sees it: ``now()`` reads :func:`current_clock`;
    everything else (``fromisoformat``, ``combine``, arithmetic) is the real thing."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = current_clock().now()
        if tz is None:
            # datetime.now() without a zone means naive local time.
            return moment.astimezone().replace(tzinfo=None)
        return moment.astimezone(tz)


def install_spiff_clock() -> None:
    """Make SpiffWorkflow's timers read :func:`current_clock`. Safe to call more than once.

    Spiff's timer module (``SpiffWorkflow.bpmn.specs.event_definitions.timer``) calls
    ``datetime.now(timezone.utc)`` to start duration timers and to test whether any timer is
    due; it has no clock parameter, so its module-level name ``datetime`` is replaced.
    """
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    if timer.datetime is not ClockDatetime:
        timer.datetime = ClockDatetime
