from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from carepath.adapters.db import audit
from carepath.adapters.db.audit import (
    AuditProblem,
    append_event,
    canonical_json,
    event_hash,
    verify,
)
from carepath.adapters.db.database import session_scope
from carepath.adapters.db.models import CaseRow, EventRow
from carepath.core.errors import NotFoundError

T0 = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)


def _case_with_events(engine: Engine, n: int = 9, la_child_id: str = "C1") -> int:
    with session_scope(engine) as session:
        case = CaseRow(la_child_id=la_child_id, pack_name="ics2010", pack_version="1")
        session.add(case)
        session.flush()
        for i in range(n):
            append_event(
                session,
                case,
                actor=f"worker{i % 2}",
                kind="task.completed",
                payload={"task": i, "on": date(2025, 1, 6 + i % 20), "note": "café"},
                at=T0 + timedelta(hours=i, microseconds=i),
            )
        return case.id


def _problems(engine: Engine, case_id: int | None = None) -> list[str]:
    with session_scope(engine) as session:
        return [p.problem for p in verify(session, case_id)]


def _event(session: Session, case_id: int, seq: int) -> EventRow:
    return session.scalars(
        select(EventRow).where(EventRow.case_id == case_id, EventRow.seq == seq)
    ).one()


def _rehash(session: Session, event: EventRow) -> None:
    """What a careful forger does: recompute the event's own hash."""
    event.hash = event_hash(
        event.prev_hash, event.case_id, event.seq, event.at, event.actor, event.kind, event.payload
    )


# --- writing -------------------------------------------------------------------------------------


def test_events_chain_and_move_the_case_head(db: Engine) -> None:
    case_id = _case_with_events(db, 3)
    with session_scope(db) as session:
        case = session.get(CaseRow, case_id)
        events = session.scalars(select(EventRow).order_by(EventRow.seq)).all()
        assert case is not None
        assert [e.seq for e in events] == [1, 2, 3]
        assert events[0].prev_hash == ""
        assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
        assert (case.event_seq, case.head_hash) == (3, events[-1].hash)
        assert events[1].at == T0 + timedelta(hours=1, microseconds=1)
        assert events[1].at.tzinfo is not None
        assert json.loads(events[1].payload) == {"task": 1, "on": "2025-01-07", "note": "café"}
    assert _problems(db) == []


def test_hash_is_sha256_of_prev_hash_and_canonical_json(db: Engine) -> None:
    case_id = _case_with_events(db, 2)
    with session_scope(db) as session:
        event = _event(session, case_id, 2)
        document = json.dumps(
            {
                "case_id": case_id,
                "seq": 2,
                "at": event.at.astimezone(UTC).isoformat(),
                "actor": event.actor,
                "kind": event.kind,
                "payload": json.loads(event.payload),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        expected = hashlib.sha256((event.prev_hash + document).encode()).hexdigest()
        assert event.hash == expected
        assert event.payload == canonical_json(json.loads(event.payload))


def test_canonical_json() -> None:
    local = timezone(timedelta(hours=1))
    value = {"b": [date(2025, 1, 2)], "a": datetime(2025, 1, 2, 13, 0, tzinfo=local)}
    assert canonical_json(value) == '{"a":"2025-01-02T12:00:00+00:00","b":["2025-01-02"]}'
    with pytest.raises(TypeError):
        canonical_json({"x": object()})
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_event_times_must_carry_a_zone(db: Engine) -> None:
    with pytest.raises(ValueError, match="time zone"), session_scope(db) as session:
        case = CaseRow(la_child_id="C1", pack_name="p", pack_version="1")
        session.add(case)
        append_event(session, case, "a", "k", {}, datetime(2025, 1, 1))


def test_times_in_other_zones_are_stored_in_utc(db: Engine) -> None:
    local = timezone(timedelta(hours=1))
    with session_scope(db) as session:
        case = CaseRow(la_child_id="C1", pack_name="p", pack_version="1")
        session.add(case)
        append_event(session, case, "a", "k", {}, datetime(2025, 7, 1, 10, 0, tzinfo=local))
    with session_scope(db) as session:
        event = session.scalars(select(EventRow)).one()
        assert event.at == datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
        assert event.at.utcoffset() == timedelta(0)
    assert _problems(db) == []


# --- verifying -----------------------------------------------------------------------------------


def test_edited_payload_is_detected(db: Engine) -> None:
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        session.execute(
            update(EventRow)
            .where(EventRow.case_id == case_id, EventRow.seq == 3)
            .values(payload='{"task":99}')
        )
    assert _problems(db) == ["event 3 was changed after it was written"]


def test_whitespace_only_edit_is_detected(db: Engine) -> None:
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        event = _event(session, case_id, 5)
        event.payload = json.dumps(json.loads(event.payload), indent=1)
    assert _problems(db) == ["event 5 was changed after it was written"]


def test_edited_and_rehashed_event_is_detected_by_the_next(db: Engine) -> None:
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        event = _event(session, case_id, 3)
        event.actor = "somebody else"
        _rehash(session, event)
    assert _problems(db) == [
        "event 3 was changed after it was written (event 4 no longer follows on from it)"
    ]


def test_edited_and_rehashed_last_event_is_detected_by_the_head(db: Engine) -> None:
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        event = _event(session, case_id, 9)
        event.kind = "nothing.happened"
        _rehash(session, event)
    assert _problems(db) == [
        "event 9 does not match the case's chain head: "
        "it was changed or replaced after it was written"
    ]


def test_deleted_middle_event_is_detected(db: Engine) -> None:
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        session.execute(delete(EventRow).where(EventRow.case_id == case_id, EventRow.seq == 4))
    assert _problems(db) == ["event 4 is missing"]


def test_deleted_run_of_events_is_detected(db: Engine) -> None:
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        session.execute(
            delete(EventRow).where(EventRow.case_id == case_id, EventRow.seq.in_([1, 2, 5, 6]))
        )
    assert _problems(db) == ["events 1 to 2 are missing", "events 5 to 6 are missing"]


def test_deleted_last_event_is_detected(db: Engine) -> None:
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        session.execute(delete(EventRow).where(EventRow.case_id == case_id, EventRow.seq == 9))
    assert _problems(db) == ["events after 8 are missing (the case's last event is 9)"]


def test_deleted_last_events_are_detected(db: Engine) -> None:
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        session.execute(delete(EventRow).where(EventRow.case_id == case_id, EventRow.seq >= 8))
    assert _problems(db) == ["events after 7 are missing (the case's last event is 9)"]


def test_all_events_deleted_is_detected(db: Engine) -> None:
    case_id = _case_with_events(db, 3)
    with session_scope(db) as session:
        session.execute(delete(EventRow).where(EventRow.case_id == case_id))
    assert _problems(db) == ["all events are missing (the case's last event is 3)"]


def test_inserted_event_is_detected(db: Engine) -> None:
    """A well-formed event appended behind the case's back (hash and link correct)."""
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        last = _event(session, case_id, 9)
        forged = EventRow(
            case_id=case_id,
            seq=10,
            at=last.at + timedelta(hours=1),
            actor="intruder",
            kind="task.completed",
            payload="{}",
            prev_hash=last.hash,
            hash="",
        )
        _rehash(session, forged)
        session.add(forged)
    assert _problems(db) == ["event 10 was inserted"]


def test_replaced_event_is_detected(db: Engine) -> None:
    """A middle event deleted and a well-formed one put in its place."""
    case_id = _case_with_events(db)
    with session_scope(db) as session:
        original = _event(session, case_id, 5)
        prev_hash, at = original.prev_hash, original.at
        session.delete(original)
        session.flush()
        forged = EventRow(
            case_id=case_id,
            seq=5,
            at=at,
            actor="intruder",
            kind="record.changed",
            payload='{"x":1}',
            prev_hash=prev_hash,
            hash="",
        )
        _rehash(session, forged)
        session.add(forged)
    assert _problems(db) == [
        "event 5 was changed after it was written (event 6 no longer follows on from it)",
        # the forged event claims to change the record, and cannot be replayed
        "event 5 (record.changed) cannot be replayed: it does not hold a record change as "
        "carepath writes them (KeyError)",
    ]


def test_verify_covers_every_case_in_order(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "VERIFY_BATCH", 2)  # several batches of cases
    ids = [_case_with_events(db, n, f"C{i}") for i, n in enumerate([3, 0, 4, 2, 0])]
    with session_scope(db) as session:
        session.execute(delete(EventRow).where(EventRow.case_id == ids[2], EventRow.seq == 2))
        session.execute(
            update(EventRow).where(EventRow.case_id == ids[0], EventRow.seq == 1).values(actor="x")
        )
        session.execute(update(CaseRow).where(CaseRow.id == ids[4]).values(head_hash="f" * 64))
    with session_scope(db) as session:
        problems = verify(session)
        assert problems == [
            AuditProblem(ids[0], 1, "event 1 was changed after it was written"),
            AuditProblem(ids[2], 2, "event 2 is missing"),
            AuditProblem(ids[4], None, "the case's chain head is set but the case has no events"),
        ]
        assert str(problems[1]) == f"case {ids[2]}: event 2 is missing"
        assert verify(session, ids[1]) == []
        assert verify(session, ids[3]) == []
        assert [p.problem for p in verify(session, ids[2])] == ["event 2 is missing"]


def test_verify_unknown_case_is_not_found(db: Engine) -> None:
    with pytest.raises(NotFoundError), session_scope(db) as session:
        verify(session, 404)


def test_chain_continues_across_transactions(db: Engine) -> None:
    case_id = _case_with_events(db, 2)
    with session_scope(db) as session:
        case = session.get(CaseRow, case_id)
        assert case is not None
        append_event(session, case, "a", "k", {"n": 3}, T0 + timedelta(days=1))
    with session_scope(db) as session:
        assert _event(session, case_id, 3).prev_hash == _event(session, case_id, 2).hash
    assert _problems(db, case_id) == []
