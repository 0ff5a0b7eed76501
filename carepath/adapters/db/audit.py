"""The audit chain: every change to a case appends a hash-chained event.

``hash = sha256(prev_hash + canonical JSON of {actor, at, case_id, kind, payload, seq})`` (hex),
where ``prev_hash`` is the hash of the case's previous event (``""`` for the first) and canonical
JSON has sorted keys, no spaces, and dates and times as ISO 8601 (times in UTC). The case row
keeps the last event's ``seq`` and ``hash`` (``event_seq``, ``head_hash``), so :func:`verify`
detects an event that was edited, inserted or deleted, the last one included.

:func:`verify` also replays the record changes of the events and compares the record tables
with them (:mod:`record_audit`): a row edited, deleted or added behind the events' back shows.
A log rewritten whole, every hash recomputed, is consistent in itself: an anchor (each case's head
kept elsewhere, ``carepath audit anchor``) shows that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from carepath.core.errors import NotFoundError
from carepath.service.types import AuditProblem

from .models import CaseRow, EventRow
from .record_audit import CaseReplay, StoredCase, load_stored

VERIFY_BATCH = 1000  # cases per query when verifying every case; events are streamed


# --- canonical JSON and the hash -----------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"An audit payload cannot hold {type(value).__name__} values: {value!r}")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text; dates ISO, aware datetimes ISO in UTC."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def _iso(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"An event time must carry a time zone (got {at.isoformat()})")
    return at.astimezone(UTC).isoformat()


def event_hash(
    prev_hash: str, case_id: int, seq: int, at: datetime, actor: str, kind: str, payload_json: str
) -> str:
    """The hash of one event, from the stored payload text exactly as stored.

    Equal to ``sha256(prev_hash + canonical_json({"case_id", "seq", "at", "actor", "kind",
    "payload"}))`` when ``payload_json`` is the canonical JSON of the payload; built from the text
    itself so that any change to the stored payload, even one JSON would not notice, shows.
    """

    def dump(value: str | int) -> str:
        return json.dumps(value, ensure_ascii=False)

    document = (
        '{"actor":' + dump(actor)
        + ',"at":' + dump(_iso(at))
        + ',"case_id":' + dump(case_id)
        + ',"kind":' + dump(kind)
        + ',"payload":' + payload_json
        + ',"seq":' + dump(seq)
        + "}"
    )  # fmt: skip
    return hashlib.sha256((prev_hash + document).encode("utf-8")).hexdigest()


# --- writing -------------------------------------------------------------------------------------


def append_event(
    session: Session,
    case: CaseRow,
    actor: str,
    kind: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> EventRow:
    """Add the case's next event to the session and move the case's chain head to it.

    Written when the session flushes, in the caller's transaction (with the case's version bump).
    """
    if case.id is None:
        session.flush()  # a new case: its id is part of the hash
    seq = (case.event_seq or 0) + 1
    prev_hash = case.head_hash or ""
    payload_json = canonical_json(dict(payload))
    _iso(at)  # refuses a naive time
    at_utc = at.astimezone(UTC)
    event = EventRow(
        case_id=case.id,
        seq=seq,
        at=at_utc,
        actor=actor,
        kind=kind,
        payload=payload_json,
        prev_hash=prev_hash,
        hash=event_hash(prev_hash, case.id, seq, at_utc, actor, kind, payload_json),
    )
    session.add(event)
    case.event_seq = seq
    case.head_hash = event.hash
    return event


# --- verifying -----------------------------------------------------------------------------------


class _Chain:
    """Checks one case's events, fed in seq order; keeps only the previous event."""

    def __init__(self, case_id: int, head_seq: int, head_hash: str) -> None:
        self.case_id = case_id
        self.head_seq = head_seq
        self.head_hash = head_hash
        self.problems: list[AuditProblem] = []
        self.last_seq = 0  # the last event seen that belongs in the chain
        self.last_hash = ""
        self.last_reported = False  # that event was already reported as changed

    def report(self, seq: int | None, problem: str) -> None:
        self.problems.append(AuditProblem(self.case_id, seq, problem))

    def feed(self, event: Any) -> None:
        seq: int = event.seq
        if seq < 1 or seq > self.head_seq:
            self.report(seq, f"event {seq} was inserted")
            return
        gap = seq > self.last_seq + 1
        if gap:
            first, last = self.last_seq + 1, seq - 1
            if first == last:
                self.report(first, f"event {first} is missing")
            else:
                self.report(first, f"events {first} to {last} are missing")
        recomputed = event_hash(
            event.prev_hash, self.case_id, seq, event.at, event.actor, event.kind, event.payload
        )
        reported = False
        if recomputed != event.hash:
            self.report(seq, f"event {seq} was changed after it was written")
            reported = True
        elif not gap and event.prev_hash != self.last_hash:
            # Both events are consistent in themselves, but they no longer link up: one of them
            # was rewritten (hash recomputed) after it was written.
            if self.last_seq == 0:
                self.report(seq, f"event {seq} was changed after it was written")
                reported = True
            elif not self.last_reported:
                self.report(
                    self.last_seq,
                    f"event {self.last_seq} was changed after it was written "
                    f"(event {seq} no longer follows on from it)",
                )
        self.last_seq, self.last_hash, self.last_reported = seq, event.hash, reported

    def finish(self) -> list[AuditProblem]:
        if self.last_seq < self.head_seq:
            if self.last_seq == 0:
                self.report(1, f"all events are missing (the case's last event is {self.head_seq})")
            else:
                self.report(
                    self.last_seq + 1,
                    f"events after {self.last_seq} are missing "
                    f"(the case's last event is {self.head_seq})",
                )
        elif self.head_seq == 0:
            if self.head_hash:
                self.report(None, "the case's chain head is set but the case has no events")
        elif self.last_hash != self.head_hash and not self.last_reported:
            self.report(
                self.head_seq,
                f"event {self.head_seq} does not match the case's chain head: "
                "it was changed or replaced after it was written",
            )
        return self.problems


_EVENT_COLUMNS = (
    EventRow.case_id,
    EventRow.seq,
    EventRow.at,
    EventRow.actor,
    EventRow.kind,
    EventRow.payload,
    EventRow.prev_hash,
    EventRow.hash,
)
_CASE_COLUMNS = (
    CaseRow.id,
    CaseRow.event_seq,
    CaseRow.head_hash,
    CaseRow.la_child_id,
    CaseRow.pack_name,
    CaseRow.pack_version,
    CaseRow.worker,
    CaseRow.team,
    CaseRow.restricted,
)

Anchored = Mapping[int, tuple[int, str]]  # case id -> (seq, hash) of its head when anchored


class _CaseAudit:
    """One case: its chain, its record against the replayed events, its anchored head."""

    def __init__(self, case: Any, stored: StoredCase | None, anchored: tuple[int, str] | None
                 ) -> None:
        self.chain = _Chain(case.id, case.event_seq, case.head_hash)
        self.replay = CaseReplay(case.id) if stored is not None else None
        self.stored = stored
        self.anchored = anchored
        self.anchor_problem: AuditProblem | None = None
        self.anchor_found = False

    def feed(self, event: Any) -> None:
        self.chain.feed(event)
        if self.replay is not None:
            self.replay.feed(event.seq, event.kind, event.payload)
        if self.anchored is not None and event.seq == self.anchored[0]:
            self.anchor_found = True
            if event.hash != self.anchored[1]:
                self.anchor_problem = AuditProblem(
                    self.chain.case_id, event.seq,
                    f"event {event.seq} is not the event anchored as the case's head: the log "
                    "was rewritten (hashes recomputed) after the anchor was taken")

    def finish(self) -> list[AuditProblem]:
        problems = self.chain.finish()
        if self.anchored is not None:
            if self.anchor_problem is not None:
                problems.append(self.anchor_problem)
            elif not self.anchor_found:
                seq = self.anchored[0]
                problems.append(AuditProblem(
                    self.chain.case_id, seq, f"event {seq}, the case's head when anchored, is "
                    f"no longer in the log (the case now has {self.chain.head_seq} events)"))
        if self.replay is not None and self.stored is not None:
            found, notes = self.replay.compare(self.stored)
            problems += found + notes
        return problems


def check_case(case: Any, stored: StoredCase, events: Iterable[Any]) -> list[AuditProblem]:
    """One case's audit from rows already read together: ``case`` its case row (the columns of
    :data:`_CASE_COLUMNS`, its chain head included), ``stored`` its record rows
    (:func:`record_audit.load_stored`), ``events`` all its events in seq order (the columns of
    :data:`_EVENT_COLUMNS`). The problems :func:`verify_all` finds for the case, notes
    included."""
    one = _CaseAudit(case, stored, None)
    for event in events:
        one.feed(event)
    return one.finish()


def iter_problems(session: Session, case_id: int | None = None, *, records: bool = True,
                  anchor: Anchored | None = None) -> Iterator[AuditProblem]:
    """Check the chain of one case (or of every case, in id order), yielding problems in order;
    with ``records`` also that the record tables equal what the events say
    (:mod:`record_audit`), and with ``anchor`` that each anchored head is still in the chain.

    Problems flagged ``note`` are what could not be checked. Events are streamed and cases read
    :data:`VERIFY_BATCH` at a time: memory does not grow with the number of cases or events.
    """
    conn = session.connection()

    def audits(cases: list[Any], first: int, last: int) -> dict[int, _CaseAudit]:
        stored = load_stored(conn, cases, first, last) if records else {}
        return {c.id: _CaseAudit(c, stored.get(c.id) if records else None,
                                 anchor.get(c.id) if anchor is not None else None)
                for c in cases}

    if case_id is not None:
        head = conn.execute(select(*_CASE_COLUMNS).where(CaseRow.id == case_id)).one_or_none()
        if head is None:
            if anchor is not None and case_id in anchor:
                yield AuditProblem(case_id, None, "the case was anchored but is no longer in "
                                   "the database")
                return
            raise NotFoundError(f"There is no case {case_id}")
        one = audits([head], case_id, case_id)[case_id]
        for event in _stream(session, select(*_EVENT_COLUMNS).where(EventRow.case_id == case_id)):
            one.feed(event)
        yield from one.finish()
        return

    seen: set[int] = set()
    after = None
    while True:
        query = select(*_CASE_COLUMNS).order_by(CaseRow.id)
        if after is not None:
            query = query.where(CaseRow.id > after)
        cases = conn.execute(query.limit(VERIFY_BATCH)).all()
        if not cases:
            break
        first, last = cases[0].id, cases[-1].id
        batch = audits(list(cases), first, last)
        if anchor is not None:
            seen.update(batch)
        current: _CaseAudit | None = None
        for event in _stream(
            session,
            select(*_EVENT_COLUMNS).where(EventRow.case_id >= first, EventRow.case_id <= last),
        ):
            # events come in (case id, seq) order: finish each case as the next one starts
            if current is None or current.chain.case_id != event.case_id:
                found = batch.get(event.case_id)
                if found is None:
                    continue  # events of a case that is not there: a foreign key stops that
                current = found
            current.feed(event)
        for audit in batch.values():  # in case id order (dicts keep the cases' order)
            yield from audit.finish()
        after = last
    if anchor is not None:
        for gone in sorted(set(anchor) - seen):
            yield AuditProblem(gone, None, "the case was anchored but is no longer in the "
                               "database")


def _stream(session: Session, query: Any) -> Iterator[Any]:
    yield from session.execute(
        query.order_by(EventRow.case_id, EventRow.seq), execution_options={"yield_per": 500}
    )


def verify(session: Session, case_id: int | None = None, *, records: bool = True,
           anchor: Anchored | None = None) -> list[AuditProblem]:
    """Every problem in the audit of one case, or of every case (notes, flagged ``note``,
    included); no problem but notes if all is well."""
    return [p for p in iter_problems(session, case_id, records=records, anchor=anchor)
            if not p.note]


def verify_all(session: Session, case_id: int | None = None, *,
               anchor: Anchored | None = None) -> list[AuditProblem]:
    """As :func:`verify`, notes included."""
    return list(iter_problems(session, case_id, anchor=anchor))


def heads(session: Session) -> Iterator[tuple[int, int, str]]:
    """Every case's (id, event seq, head hash), in id order, streamed."""
    for row in session.execute(
            select(CaseRow.id, CaseRow.event_seq, CaseRow.head_hash).order_by(CaseRow.id),
            execution_options={"yield_per": 1000}):
        yield int(row.id), int(row.event_seq), str(row.head_hash)


@contextmanager
def snapshot_session(engine: Engine) -> Iterator[Session]:
    """A read-only session on one consistent snapshot of the database (``REPEATABLE READ`` on
    PostgreSQL, one read transaction on SQLite): events and record rows read together."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin() as transaction:
            if engine.dialect.name == "sqlite":
                # pysqlite opens a transaction only before a write: open the read one here
                connection.exec_driver_sql("BEGIN")
            with Session(bind=connection) as session:
                yield session
            transaction.rollback()  # nothing was written


class SqlAuditLog:
    """The audit chain of every case, and the record tables against it, checked from the
    database (never from a cache)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def verify(self, case_id: int | None, anchor: Anchored | None = None) -> list[AuditProblem]:
        with snapshot_session(self.engine) as session:
            return verify_all(session, case_id, anchor=anchor)

    def heads(self) -> tuple[datetime, list[tuple[int, int, str]]]:
        """Every case's chain head, read on one snapshot, and when."""
        with snapshot_session(self.engine) as session:
            return datetime.now(UTC), list(heads(session))
