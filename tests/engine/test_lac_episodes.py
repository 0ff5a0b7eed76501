"""The 903 episodes derived from the looked-after record: one test per rule of
``carepath.engine.record.lac_episodes`` (looked_after.md §1.5; DfE rule numbers in brackets)."""

from __future__ import annotations

from datetime import date as d

import pytest

from carepath.core.errors import RecordError
from carepath.engine.record.lac_episodes import derive_episodes, episodes_in_year
from carepath.engine.record.looked_after import (
    LegalStatus,
    LookedAfter,
    PeriodOfCare,
    Placement,
    check_looked_after,
)

START = d(2025, 5, 1)


def place(type_: str, start: d, end: d | None = None, carer: str | None = "C1",
          postcode: str = "E1 7AA", reason: str | None = None,
          provider: str | None = "PR1") -> Placement:
    return Placement(type_, start, end, provider=provider, carer=carer, postcode=postcode,
                     reason_changed=reason)


def record(statuses: list[LegalStatus], placements: list[Placement], end: d | None = None,
           rec: str | None = None) -> LookedAfter:
    return LookedAfter(periods=[PeriodOfCare(START, "N1", end, rec)], legal_statuses=statuses,
                       placements=placements)


def summary(r: LookedAfter) -> list[tuple[str, str, str, str | None, str | None]]:
    return [(e.start.isoformat(), e.rne, e.placement, e.reason_ceased, e.reason_place_change)
            for e in derive_episodes(r)]


def test_rule1_union_of_change_points_and_no_change_no_episode() -> None:
    """Rule 1: episodes at every change of either timeline; a same-code legal status or an
    identical placement is no change."""
    r = record([LegalStatus("V2", START, d(2025, 6, 1)), LegalStatus("V2", d(2025, 6, 1))],
               [place("U6", START, d(2025, 7, 1), reason="CARPL"),
                place("U6", d(2025, 7, 1))])
    assert [e.start for e in derive_episodes(r)] == [START]


def test_rule2_first_episode_is_s() -> None:
    """Rule 2: the first episode of each period has RNE S (357, 432)."""
    r = LookedAfter(
        periods=[PeriodOfCare(START, "N1", d(2025, 6, 1), "E4A"),
                 PeriodOfCare(d(2025, 9, 1), "N4")],
        legal_statuses=[LegalStatus("V2", START, d(2025, 6, 1)), LegalStatus("C1", d(2025, 9, 1))],
        placements=[place("U6", START, d(2025, 6, 1)), place("U6", d(2025, 9, 1))])
    episodes = derive_episodes(r)
    assert [(e.rne, e.period, e.need) for e in episodes] == [("S", 0, "N1"), ("S", 1, "N4")]


@pytest.mark.parametrize(("ls_change", "new_carer", "rne"), [
    (True, None, "L"),
    (False, "C2", "P"),
    (False, "C1", "T"),
    (True, "C2", "B"),
    (True, "C1", "U"),
])
def test_rule3_rne_follows_what_changed(ls_change: bool, new_carer: str | None,
                                         rne: str) -> None:
    """Rule 3: L legal status only; P/T placement only, new/same carer; B/U both (434-436)."""
    day = d(2025, 8, 1)
    statuses = ([LegalStatus("V2", START, day), LegalStatus("C1", day)] if ls_change
                else [LegalStatus("V2", START)])
    placements = ([place("U6", START, day, reason="CARPL"),
                   place("U4", day, carer=new_carer, postcode="E1 7AD")]
                  if new_carer else [place("U6", START)])
    assert [e.rne for e in derive_episodes(record(statuses, placements))] == ["S", rne]


def test_rule3_unknown_carers_count_as_a_new_carer() -> None:
    """Rule 3: the carer is the same only when both placements name it."""
    r = record([LegalStatus("V2", START)],
               [place("K2", START, d(2025, 8, 1), carer=None, reason="CARPL"),
                place("K2", d(2025, 8, 1), carer=None, postcode="E1 7AD")])
    assert [e.rne for e in derive_episodes(r)] == ["S", "P"]


def test_rule3_temporary_placements_are_always_a_new_carer() -> None:
    """Rule 3: into and out of T0-T4 is P even with the same carer named (383)."""
    r = record([LegalStatus("C2", START)],
               [place("U4", START, d(2025, 7, 1)), place("T2", d(2025, 7, 1), d(2025, 7, 8),
                                                         provider=None),
                place("U4", d(2025, 7, 8))])
    assert [e.rne for e in derive_episodes(r)] == ["S", "P", "P"]


def test_rule4_contiguous_x1_and_the_period_reason_at_the_end() -> None:
    """Rule 4: DEC = next DECOM with X1 (433, 388); the last has the period's REC."""
    r = record([LegalStatus("V2", START, d(2025, 7, 1)), LegalStatus("C1", d(2025, 7, 1),
                                                                     d(2025, 10, 1))],
               [place("U6", START, d(2025, 10, 1))], end=d(2025, 10, 1), rec="E4A")
    episodes = derive_episodes(r)
    assert [(e.start, e.end, e.reason_ceased) for e in episodes] == [
        (START, d(2025, 7, 1), "X1"), (d(2025, 7, 1), d(2025, 10, 1), "E4A")]


def test_rule5_reason_for_change_on_the_ceasing_episode_only() -> None:
    """Rule 5: REASON_PLACE_CHANGE on the episode before a P/B/T/U one, from the ending
    placement; never around a temporary placement (225, 226) nor before an L."""
    r = record([LegalStatus("V2", START, d(2025, 6, 1)), LegalStatus("C1", d(2025, 6, 1))],
               [place("U6", START, d(2025, 7, 1), reason="CREQB"),
                place("U4", d(2025, 7, 1), d(2025, 8, 1), carer="C2", reason="OTHER"),
                place("T1", d(2025, 8, 1), d(2025, 8, 3), carer=None, provider=None),
                place("U4", d(2025, 8, 3), carer="C2")])
    assert [(e.rne, e.reason_place_change, e.needs_reason_place_change)
            for e in derive_episodes(r)] == [
        ("S", None, False), ("L", "CREQB", True), ("P", None, False), ("P", None, False),
        ("P", None, False)]


def test_rule6_need_is_the_periods() -> None:
    """Rule 6: CIN is the period's for every episode (504)."""
    r = record([LegalStatus("V2", START, d(2025, 6, 1)), LegalStatus("C1", d(2025, 6, 1))],
               [place("U6", START)])
    assert {e.need for e in derive_episodes(r)} == {"N1"}


def test_rule7_no_zero_length_items() -> None:
    """Rule 7: nothing starts and ends on one day (355)."""
    r = record([LegalStatus("V2", START)], [place("U6", START, START)])
    with pytest.raises(RecordError, match="must end after the day it starts"):
        check_looked_after(r)


def test_rule8_clipped_to_the_year() -> None:
    """Rule 8: episodes open in the year; one open at 31 March has no DEC/REC/reason (148,
    233)."""
    r = record([LegalStatus("V2", START)],
               [place("U6", START, d(2026, 5, 1), reason="CARPL"),
                place("U4", d(2026, 5, 1), carer="C2")])
    clipped = episodes_in_year(derive_episodes(r), d(2025, 4, 1), d(2026, 3, 31))
    assert [(e.start, e.end, e.reason_ceased, e.reason_place_change) for e in clipped] == [
        (START, None, None, None)]
    assert episodes_in_year(derive_episodes(r), d(2024, 4, 1), d(2025, 3, 31)) == []


@pytest.mark.parametrize(("statuses", "placements", "message"), [
    ([LegalStatus("V2", d(2025, 5, 2))], [place("U6", START)], "No legal status is recorded"),
    ([LegalStatus("V2", START, d(2025, 6, 1)), LegalStatus("C1", d(2025, 6, 5))],
     [place("U6", START)], "No legal status is recorded from 2025-06-01 to 2025-06-05"),
    ([LegalStatus("V2", START)], [place("U6", START), place("U4", d(2025, 6, 1))],
     "overlaps"),
    ([LegalStatus("V2", START)], [place("U6", START, d(2025, 6, 1))],
     "No placement is recorded after 2025-06-01"),
    ([LegalStatus("V2", START)], [place("U6", d(2025, 4, 1))], "outside every period"),
    ([], [place("U6", START)], "has no legal status"),
])
def test_inconsistent_timelines_are_refused(statuses: list[LegalStatus],
                                            placements: list[Placement], message: str) -> None:
    with pytest.raises(RecordError, match=message):
        derive_episodes(record(statuses, placements))


def test_periods_must_not_overlap_or_touch() -> None:
    """Rule 431: a new period cannot start the day the previous ended."""
    r = LookedAfter(periods=[PeriodOfCare(START, "N1", d(2025, 6, 1), "E4A"),
                             PeriodOfCare(d(2025, 6, 1), "N1")])
    with pytest.raises(RecordError, match="stays in one period"):
        derive_episodes(r)
    r.periods[0].end = None
    with pytest.raises(RecordError, match="overlap"):
        derive_episodes(r)


def test_an_item_crossing_the_end_of_its_period_is_refused() -> None:
    r = record([LegalStatus("V2", START, d(2025, 9, 1))], [place("U6", START)],
               end=d(2025, 8, 1), rec="E4A")
    with pytest.raises(RecordError, match="after the period of care it belongs to ended"):
        derive_episodes(r)


def test_open_items_end_with_their_period() -> None:
    r = record([LegalStatus("V2", START)], [place("U6", START)], end=d(2025, 8, 1), rec="E13")
    assert [(e.end, e.reason_ceased) for e in derive_episodes(r)] == [(d(2025, 8, 1), "E13")]


def test_codes_are_checked() -> None:
    with pytest.raises(RecordError, match="'Z1' is not a code"):
        check_looked_after(record([LegalStatus("V2", START)], [place("Z1", START)]))
    with pytest.raises(RecordError, match="no provider"):
        check_looked_after(record([LegalStatus("V2", START)], [place("T1", START)]))
    r = record([LegalStatus("V2", START)], [place("U6", START)])
    r.periods[0].reason_ceased = "X1"
    with pytest.raises(RecordError, match="Reason care ceased 'X1'"):
        check_looked_after(r)
