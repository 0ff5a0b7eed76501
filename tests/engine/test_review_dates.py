"""ReviewDates: a plan's review dates that read the stored ones only when they must."""

from __future__ import annotations

import copy
import pickle
import threading
from datetime import date, timedelta

import pytest

from carepath.core.errors import RecordError
from carepath.engine.record.case_record import CaseRecord, Child, CPPlan, Episode, record_to_json
from carepath.engine.record.context import record_context
from carepath.engine.record.model import ReviewDates, StoredReviews, clone_record

DATES = [date(2025, 1, 1) + timedelta(days=7 * i) for i in range(100)]


class Loader:
    def __init__(self, dates: list[date]) -> None:
        self.dates = dates
        self.calls = 0

    def __call__(self) -> list[date]:
        self.calls += 1
        return list(self.dates)


def lazy(dates: list[date] = DATES) -> tuple[ReviewDates, Loader]:
    loader = Loader(dates)
    return ReviewDates(base=StoredReviews(7, len(dates), dates[-1], load=loader)), loader


def test_count_last_append_and_copies_do_not_read() -> None:
    reviews, loader = lazy()
    assert len(reviews) == 100 and reviews[-1] == DATES[-1] and reviews
    reviews.append(date(2030, 1, 1))
    other = reviews.copy()
    other.append(date(2030, 2, 1))
    assert (len(reviews), len(other), other[-2], other[-1]) == \
        (101, 102, date(2030, 1, 1), date(2030, 2, 1))
    assert copy.deepcopy(other) == other and copy.copy(other) == other
    assert other != reviews and other[:-1] != reviews[:0]  # (slices read; see below)
    assert reviews.known_prefix(other) == 101
    assert loader.calls == 1  # only the slices read


def test_reading_every_date_reads_once_and_gives_the_list() -> None:
    reviews, loader = lazy()
    reviews.append(date(2030, 1, 1))
    assert list(reviews) == [*DATES, date(2030, 1, 1)]
    assert reviews[3] == DATES[3] and DATES[5] in reviews
    assert reviews == [*DATES, date(2030, 1, 1)] and [*DATES, date(2030, 1, 1)] == reviews
    assert reviews.copy() == reviews
    assert loader.calls == 1


def test_changes_other_than_appending_work_like_a_list() -> None:
    reviews, _ = lazy(DATES[:5])
    reviews.pop()
    reviews.insert(0, date(2024, 12, 1))
    reviews[1] = date(2024, 12, 25)
    del reviews[2]
    expected = [date(2024, 12, 1), date(2024, 12, 25), *DATES[2:4]]
    assert reviews == expected and reviews.stored is None
    assert pickle.loads(pickle.dumps(reviews)) == expected


def test_a_cached_record_is_shared_between_threads_safely() -> None:
    reviews, loader = lazy()
    record = CaseRecord(child=Child("LA-1"), episodes=[Episode(
        referral_date=date(2024, 1, 1), cp_plans=[CPPlan(start=date(2024, 12, 1),
                                                         reviews=reviews)])])
    results: list[list[date]] = []
    start = threading.Barrier(8)

    def read() -> None:
        mine = clone_record(record)
        mine.episodes[0].cp_plans[0].reviews.append(date(2031, 1, 1))
        start.wait()
        results.append(list(mine.episodes[0].cp_plans[0].reviews))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [[*DATES, date(2031, 1, 1)]] * 8
    assert loader.calls == 1 and len(reviews) == 100  # the shared record did not change


def test_record_readers_see_plain_dates() -> None:
    reviews, loader = lazy()
    record = CaseRecord(child=Child("LA-1"), episodes=[Episode(
        referral_date=date(2024, 1, 1), cp_plans=[CPPlan(start=date(2024, 12, 1),
                                                         reviews=reviews)])])
    context = record_context(record)
    assert context["cp_plan"]["last_review"] == DATES[-1] and loader.calls == 0
    assert context["cp_plan"]["reviews"] == DATES and loader.calls == 1
    assert record_to_json(record)["episodes"][0]["cp_plans"][0]["reviews"][0] == "2025-01-01"


def test_stored_dates_that_do_not_match_are_refused() -> None:
    reviews = ReviewDates(base=StoredReviews(1, 3, DATES[2], load=lambda: DATES[:2]))
    assert len(reviews) == 3
    with pytest.raises(RecordError, match="do not match"):
        list(reviews)
