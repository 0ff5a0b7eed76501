"""The SSDA903 episodes of a looked-after child, derived from the record (never typed).

A 903 episode is a maximal stretch of one period of care over which the legal status and the
placement (type, carer, provider, URN, placement postcode) do not change. The rules, numbered as
in the docstrings of the tests (``tests/engine/test_lac_episodes.py``), follow
``looked_after.md`` §1.5 and the DfE rules that check them:

1. Episodes are the union of the change points of the two timelines within a period of care; a
   new legal-status item with the same code, or a new placement identical in the 903's terms,
   is no change (no episode).
2. The first episode of a period has RNE ``S`` (rules 357, 432).
3. A later one: ``L`` legal status changed only; ``P`` placement changed with a new carer;
   ``T`` placement changed, same carer; ``B`` / ``U`` both changed the same day, carer new / the
   same (434-436). The carer is the same only when both placements name the same carer; a move
   into or out of a temporary placement (T0-T4) always counts as a new carer (383).
4. Episodes of a period are contiguous: each ends (DEC) the day the next starts (DECOM, 433)
   with REC ``X1`` (388); the last ends with the period, with its reason ceased, or is open.
5. ``REASON_PLACE_CHANGE`` is on the ceasing episode only, when the next episode's RNE is P, B, T
   or U and neither placement is temporary (225, 226); it is the ending placement's
   ``reason_changed``.
6. The category of need is the period's, the same for every episode of it (504).
7. No episode starts and ends on one day (355): items that do are refused.
8. Clipped to a collection year (:func:`episodes_in_year`): every episode open at some time in
   the year; one still open at 31 March has no DEC, REC or reason for a change (148, 233).

Inconsistent input raises :class:`~carepath.core.errors.RecordError` naming the item: periods
that overlap or follow each other the same day (431), a legal status or placement outside every
period, overlapping or leaving a gap, or crossing the end of its period. An item still open in a
period that has ended is taken to end with the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from carepath.core.errors import RecordError
from carepath.core.looked_after_codes import TEMPORARY_PLACEMENTS
from carepath.engine.record.looked_after import (
    LegalStatus,
    LookedAfter,
    PeriodOfCare,
    Placement,
)


@dataclass(frozen=True)
class CareEpisode:
    """One SSDA903 episode (the Episodes table's columns in record terms)."""

    start: date  # DECOM
    rne: str
    legal_status: str  # LS
    need: str | None  # CIN
    placement: str  # PLACE
    provider: str | None  # PLACE_PROVIDER
    end: date | None  # DEC
    reason_ceased: str | None  # REC: X1 inside a period, the period's reason at its end
    reason_place_change: str | None  # REASON_PLACE_CHANGE
    home_postcode: str | None  # HOME_POST
    postcode: str | None  # PL_POST
    urn: str | None
    carer: str | None
    period: int  # index of the period of care (in date order)
    # the next episode is a placement change that needs REASON_PLACE_CHANGE here (rule 225)
    needs_reason_place_change: bool = False


T = TypeVar("T", LegalStatus, Placement)


def _describe(item: LegalStatus | Placement) -> str:
    if isinstance(item, LegalStatus):
        return f"legal status {item.code} starting {item.start}"
    return f"placement {item.type} starting {item.start}"


def sorted_periods(record: LookedAfter) -> list[PeriodOfCare]:
    """The periods of care in date order; RecordError if they overlap or touch (rule 431)."""
    periods = sorted(record.periods, key=lambda p: p.start)
    for before, after in zip(periods, periods[1:], strict=False):
        if before.end is None or before.end > after.start:
            raise RecordError(f"Periods of care overlap: the one starting {before.start} is still "
                              f"open when the one starting {after.start} begins")
        if before.end == after.start:
            raise RecordError(
                f"A period of care starts on {after.start}, the day the previous one ended: a "
                "child who does not leave care stays in one period (a new episode, not a new "
                "period)")
    return periods


def _timeline(items: Sequence[T], period: PeriodOfCare, what: str) -> list[tuple[date, date | None, T]]:
    """The items of one period as contiguous (start, end, item), ends clipped to the period."""
    if not items:
        raise RecordError(f"The period of care starting {period.start} has no {what}")
    out: list[tuple[date, date | None, T]] = []
    expected = period.start
    for item in sorted(items, key=lambda i: i.start):
        end = item.end if item.end is not None else period.end
        if period.end is not None and end is not None and end > period.end:
            raise RecordError(f"The {_describe(item)} ends on {end}, after the period of care "
                              f"it belongs to ended ({period.end})")
        if item.start > expected:
            raise RecordError(f"No {what} is recorded from {expected} to {item.start} in the "
                              f"period of care starting {period.start}")
        if item.start < expected:
            previous = out[-1][2] if out else None
            raise RecordError(f"The {_describe(item)} overlaps the "
                              f"{_describe(previous) if previous is not None else 'period start'}")
        out.append((item.start, end, item))
        expected = date.max if end is None else end
    last_end = out[-1][1]
    if last_end != period.end:
        after = "is open" if period.end is None else f"ends on {period.end}"
        raise RecordError(f"No {what} is recorded after {last_end} though the period of care "
                          f"starting {period.start} {after}")
    return out


def _assign(items: Sequence[T], periods: Sequence[PeriodOfCare]) -> list[list[T]]:
    by_period: list[list[T]] = [[] for _ in periods]
    for item in items:
        for i, p in enumerate(periods):
            if p.start <= item.start and (p.end is None or item.start < p.end):
                by_period[i].append(item)
                break
        else:
            raise RecordError(f"The {_describe(item)} is outside every period of care")
    return by_period


def _placement_key(p: Placement) -> tuple[str | None, ...]:
    return (p.type, p.carer, p.provider, p.urn, p.postcode)


def _same_carer(before: Placement, after: Placement) -> bool:
    if before.type in TEMPORARY_PLACEMENTS or after.type in TEMPORARY_PLACEMENTS:
        return False
    return before.carer is not None and before.carer == after.carer


def _rne(ls_changed: bool, placement_changed: bool, same_carer: bool) -> str:
    if ls_changed and placement_changed:
        return "U" if same_carer else "B"
    if placement_changed:
        return "T" if same_carer else "P"
    return "L"


def derive_episodes(record: LookedAfter) -> list[CareEpisode]:
    """Every 903 episode of the child's record, all periods of care, in date order."""
    periods = sorted_periods(record)
    statuses = _assign(record.legal_statuses, periods)
    placements = _assign(record.placements, periods)
    episodes: list[CareEpisode] = []
    for index, period in enumerate(periods):
        episodes.extend(_period_episodes(index, period, statuses[index], placements[index]))
    return episodes


def _period_episodes(index: int, period: PeriodOfCare, statuses: list[LegalStatus],
                     placements: list[Placement]) -> list[CareEpisode]:
    ls_line = _timeline(statuses, period, "legal status")
    pl_line = _timeline(placements, period, "placement")
    changes = sorted({s for s, _, _ in ls_line} | {s for s, _, _ in pl_line})

    def active(line: list[tuple[date, date | None, T]], day: date) -> T:
        for start, end, item in line:
            if start <= day and (end is None or day < end):
                return item
        raise AssertionError("timeline checked contiguous")  # pragma: no cover

    # (start, rne, legal status, placement at the start, placement at the end)
    segments: list[tuple[date, str, LegalStatus, Placement, Placement]] = []
    for day in changes:
        ls, pl = active(ls_line, day), active(pl_line, day)
        if not segments:
            segments.append((day, "S", ls, pl, pl))
            continue
        _, _, prev_ls, _, prev_pl = segments[-1]
        ls_changed = ls.code != prev_ls.code
        pl_changed = _placement_key(pl) != _placement_key(prev_pl)
        if not ls_changed and not pl_changed:  # rule 1: no change in the 903's terms
            start, rne, first_ls, first_pl, _ = segments[-1]
            segments[-1] = (start, rne, first_ls, first_pl, pl)
            continue
        segments.append((day, _rne(ls_changed, pl_changed, _same_carer(prev_pl, pl)), ls, pl, pl))

    episodes: list[CareEpisode] = []
    for i, (start, rne, ls, pl, last_pl) in enumerate(segments):
        if i + 1 < len(segments):
            end: date | None = segments[i + 1][0]
            rec: str | None = "X1"
            next_rne, next_pl = segments[i + 1][1], segments[i + 1][3]
            needs = (next_rne in ("P", "B", "T", "U") and pl.type not in TEMPORARY_PLACEMENTS
                     and next_pl.type not in TEMPORARY_PLACEMENTS)
        else:
            end, rec, needs = period.end, period.reason_ceased, False
        episodes.append(CareEpisode(
            start=start, rne=rne, legal_status=ls.code, need=period.need, placement=pl.type,
            provider=pl.provider, end=end, reason_ceased=rec,
            reason_place_change=last_pl.reason_changed if needs else None,
            home_postcode=pl.home_postcode, postcode=pl.postcode, urn=pl.urn, carer=pl.carer,
            period=index, needs_reason_place_change=needs,
        ))
    return episodes


def episodes_in_year(episodes: Sequence[CareEpisode], first: date, last: date) -> list[CareEpisode]:
    """The episodes open at some time from ``first`` to ``last`` (both included), as the 903 for
    that year has them: an episode still open on ``last`` has no end, reason ceased or reason for
    a placement change (what happened after the year is not in its return)."""
    out: list[CareEpisode] = []
    for e in episodes:
        if e.start > last or (e.end is not None and e.end < first):
            continue
        if e.end is not None and e.end > last:
            e = replace(e, end=None, reason_ceased=None, reason_place_change=None,
                        needs_reason_place_change=False)
        out.append(e)
    return out
