"""The record cache the store (and the repository after it) keeps: by version, thread-safe."""

from __future__ import annotations

import random
import threading
from datetime import date

import pytest

from carepath.adapters.db.record_cache import RecordCache
from carepath.engine.record.case_record import CaseRecord, Child


def _record(case_id: int, version: int) -> CaseRecord:
    return CaseRecord(child=Child(la_child_id=f"{case_id}:{version}",
                                  birth_date=date(2015, 1, 1)))


def test_a_record_comes_back_only_at_its_version() -> None:
    cache = RecordCache(size=4)
    record = _record(1, 3)
    cache.put(1, 3, record)
    assert cache.get(1, 3) is record
    assert cache.get(1, 2) is None and cache.get(1, 4) is None and cache.get(2, 3) is None
    cache.put(1, 2, _record(1, 2))  # an older version never replaces a newer one
    assert cache.get(1, 3) is record
    cache.evict(1)
    assert cache.get(1, 3) is None and 1 not in cache


def test_least_recently_used_goes_first() -> None:
    cache = RecordCache(size=2)
    cache.put(1, 1, _record(1, 1))
    cache.put(2, 1, _record(2, 1))
    assert cache.get(1, 1) is not None  # 1 is now the most recent
    cache.put(3, 1, _record(3, 1))
    assert 2 not in cache and 1 in cache and 3 in cache and len(cache) == 2
    with pytest.raises(ValueError):
        RecordCache(size=0)


def test_many_threads_never_see_a_record_at_the_wrong_version() -> None:
    cache = RecordCache(size=50)
    errors: list[str] = []
    versions = {case_id: 0 for case_id in range(100)}
    locks = {case_id: threading.Lock() for case_id in versions}
    start = threading.Barrier(8)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(3000):
            case_id = rng.randrange(100)
            with locks[case_id]:  # one writer per case at a time, as the version lock makes it
                version = versions[case_id] + 1
                versions[case_id] = version
            cache.put(case_id, version, _record(case_id, version))
            asked = rng.randint(max(version - 2, 1), version + 1)
            got = cache.get(case_id, asked)
            if got is not None and got.child.la_child_id != f"{case_id}:{asked}":
                errors.append(f"case {case_id} at {asked}: {got.child.la_child_id}")
            if rng.random() < 0.05:
                cache.evict(case_id)
            if len(cache) > 50:
                errors.append(f"{len(cache)} records held")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert cache.hits > 0 and cache.misses > 0
