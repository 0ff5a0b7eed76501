"""Case records just committed, kept by case version: safe to share between threads.

Every change to a case's record bumps the case's version in the same transaction, so a record
cached at the version the database still shows is exactly what ``records.load_record`` would
return, and a long case is not re-read on every task.

The rules that make sharing safe:

* an entry is ``(version, record)`` and is replaced whole, never changed in place; all access to
  the ordered map goes through one lock (held for a few dictionary operations, never for I/O);
* **a cached record is never mutated**, by the cache or by its readers. Whoever puts a record
  hands it over: it must not change it afterwards (the runtime works on ``clone_record`` copies,
  and ``CaseRuntime.complete`` never changes the record it is given). Whoever gets one reads it,
  or clones it before changing it (``clone_record`` shares only immutable parts: dates, strings,
  and the stored-reviews snapshot of :class:`~carepath.engine.record.model.ReviewDates`, whose
  one lazy read is itself done under a lock);
* :meth:`RecordCache.get` returns a record only for the version asked for; an older entry is left
  for :meth:`put` to replace (a newer one may already be on its way from another thread), and a
  :meth:`put` never replaces a newer version with an older one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from carepath.engine.record.case_record import CaseRecord

__all__ = ["RecordCache"]


class RecordCache:
    """At most ``size`` records, least recently used first out."""

    def __init__(self, size: int = 2048) -> None:
        if size < 1:
            raise ValueError("a record cache holds at least one record")
        self.size = size
        self._entries: OrderedDict[int, tuple[int, CaseRecord]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, case_id: int, version: int) -> CaseRecord | None:
        """The record of the case at ``version``, or None if it is not cached at that version.
        The record is shared: do not change it (clone it first)."""
        with self._lock:
            entry = self._entries.get(case_id)
            if entry is None or entry[0] != version:
                self.misses += 1
                return None
            self._entries.move_to_end(case_id)
            self.hits += 1
            return entry[1]

    def put(self, case_id: int, version: int, record: CaseRecord) -> None:
        """Keep ``record`` as the case's record at ``version`` (just committed). The caller hands
        it over and must not change it afterwards. An entry for a newer version is kept."""
        with self._lock:
            entry = self._entries.get(case_id)
            if entry is not None and entry[0] > version:
                return
            self._entries[case_id] = (version, record)
            self._entries.move_to_end(case_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def evict(self, case_id: int) -> None:
        """Forget the case (after a write this process could not see the result of)."""
        with self._lock:
            self._entries.pop(case_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, case_id: object) -> bool:
        with self._lock:
            return case_id in self._entries
