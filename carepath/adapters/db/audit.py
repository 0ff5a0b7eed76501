"""The audit chain: every change to a case appends a hash-chained event.

``hash = sha256(prev_hash + canonical JSON of {actor, at, case_id, kind, payload, seq})`` (hex),
where ``prev_hash`` is the hash of the case's previous event (``""`` for the first) and canonical
JSON has sorted keys, no spaces, and dates and times as ISO 8601 (times in UTC). The case row
keeps the last event's ``seq`` and ``hash`` (``event_seq``, ``head_hash``), so :func:`verify`
detects an event that was edited, inserted or deleted, the last one included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from carepath.core.errors import NotFoundError
from carepath.service.types import AuditProblem

from .models import CaseRow, EventRow

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


def iter_problems(session: Session, case_id: int | None = None) -> Iterator[AuditProblem]:
    """Check the chain of one case (or of every case, in id order), yielding problems in order.

    Events are streamed; memory does not grow with the number of events.
    """
    if case_id is not None:
        head = session.execute(
            select(CaseRow.event_seq, CaseRow.head_hash).where(CaseRow.id == case_id)
        ).one_or_none()
        if head is None:
            raise NotFoundError(f"There is no case {case_id}")
        chain = _Chain(case_id, head.event_seq, head.head_hash)
        for event in _stream(session, select(*_EVENT_COLUMNS).where(EventRow.case_id == case_id)):
            chain.feed(event)
        yield from chain.finish()
        return

    after = None
    while True:
        query = select(CaseRow.id, CaseRow.event_seq, CaseRow.head_hash).order_by(CaseRow.id)
        if after is not None:
            query = query.where(CaseRow.id > after)
        cases = session.execute(query.limit(VERIFY_BATCH)).all()
        if not cases:
            return
        first, last = cases[0].id, cases[-1].id
        chains = iter(cases)
        current: Any = next(chains)
        chain = _Chain(current.id, current.event_seq, current.head_hash)
        for event in _stream(
            session,
            select(*_EVENT_COLUMNS).where(EventRow.case_id >= first, EventRow.case_id <= last),
        ):
            # Cases come in id order and events in (case id, seq) order: move along together.
            while current is not None and current.id < event.case_id:
                yield from chain.finish()
                current = next(chains, None)
                if current is not None:
                    chain = _Chain(current.id, current.event_seq, current.head_hash)
            if current is not None and current.id == event.case_id:
                chain.feed(event)
        if current is not None:
            yield from chain.finish()
            for rest in chains:  # cases after the last one with events
                yield from _Chain(rest.id, rest.event_seq, rest.head_hash).finish()
        after = last


def _stream(session: Session, query: Any) -> Iterator[Any]:
    yield from session.execute(
        query.order_by(EventRow.case_id, EventRow.seq), execution_options={"yield_per": 500}
    )


def verify(session: Session, case_id: int | None = None) -> list[AuditProblem]:
    """Every problem in the audit chain of one case, or of every case; empty if all is well."""
    return list(iter_problems(session, case_id))


class SqlAuditLog:
    """The audit chain of every case, checked from the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def verify(self, case_id: int | None) -> list[AuditProblem]:
        with Session(self.engine) as session:
            return verify(session, case_id)
