"""The record replayed from its events equals the record the changes made."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from carepath.core.errors import RecordError
from carepath.engine.record.case_record import (
    CaseRecord,
    Child,
    apply_values,
    new_episode,
    record_to_json,
)
from carepath.engine.record.replay import RecordReplay, child_json
from carepath.engine.runtime import _jsonable


def _changed(changes: list[Any]) -> dict[str, Any]:
    return {"changes": [{"item": c.item, "value": _jsonable(c.value),
                         "before": _jsonable(c.before)} for c in changes]}


def test_every_kind_of_change_replays_to_the_same_record() -> None:
    child = Child(la_child_id="C1", upn_unknown="UN1", birth_date=date(2015, 1, 1), sex="F",
                  ethnicity="WBRI", disabilities=["NONE"])
    record = CaseRecord(child=Child(**{**child.__dict__, "disabilities": ["NONE"]}))
    new_episode(record, date(2025, 1, 6), "2A")
    events: list[tuple[str, dict[str, Any]]] = [
        ("case.opened", {"pack": "p@1", "referral": {"date": "2025-01-06", "source": "2A"},
                         "child": child_json(record.child)})]
    steps: list[dict[str, Any]] = [
        {"child.upn": "A123456789012", "episode.primary_need": "N1"},
        {"episode.emergency_protection": "2025-01-09"},
        {"episode.emergency_protection": "2025-01-07"},
        {"assessment.start": "2025-01-07"},
        {"assessment.authorised": "2025-01-20", "assessment.factors": ["1C", "2A"]},
        {"s47.start": "2025-01-08"},
        {"s47.icpc_date": "2025-01-22"},
        {"cp_plan.start": "2025-01-22", "cp_plan.initial_category": "NEG"},
        {"cp_plan.review": "2025-04-22"},
        {"cp_plan.review": "2025-10-22", "cp_plan.latest_category": "EMO"},
        {"cp_plan.end": "2025-11-01"},
        {"cin_plan.start": "2025-11-01"},
        {"cin_plan.end": "2025-12-01", "child.disabilities": ["HAND", "VIS"]},
        {"closure.date": "2025-12-02", "closure.reason": "RC1"},
    ]
    for values in steps:
        events.append(("record.changed", _changed(apply_values(record, values))))
    replay = RecordReplay()
    for seq, (kind, payload) in enumerate(events, start=1):
        replay.apply(seq, kind, payload)
        replay.apply(seq, "task.completed", {"anything": 1})  # not a record change: no effect
    assert replay.record is not None
    assert record_to_json(replay.record) == record_to_json(record)
    assert replay.record.episodes[0].emergency_protection == [date(2025, 1, 7),
                                                              date(2025, 1, 9)]
    assert replay.unknown_child == set()
    assert replay.written[("review", 0, 0, 1)] == 11
    assert replay.written[("cp_plan", 0, 0)] == 12  # its end
    assert replay.written[("child",)] == 14


@pytest.mark.parametrize(("kind", "payload", "says"), [
    ("record.changed", {"changes": [{"item": "s47.icpc_date", "value": "2025-01-01"}]},
     "before the case was opened"),
    ("referral.recorded", {"referral": {"date": "2025-01-01"}}, "before the case was opened"),
])
def test_events_that_cannot_apply_are_refused(kind: str, payload: dict[str, Any],
                                              says: str) -> None:
    with pytest.raises(RecordError, match=says):
        RecordReplay().apply(3, kind, payload)


def test_a_change_the_record_cannot_take_is_refused() -> None:
    replay = RecordReplay()
    replay.apply(1, "case.opened", {"pack": "p@1", "referral": {"date": "2025-01-06"}})
    assert replay.unknown_child  # an opening event without the child
    with pytest.raises(RecordError, match="has none"):
        replay.apply(2, "record.changed", {"changes": [{"item": "cp_plan.end",
                                                        "value": "2025-02-01"}]})
    with pytest.raises(RecordError, match="not an item"):
        replay.apply(2, "record.changed", {"changes": [{"item": "x.y", "value": 1}]})
    with pytest.raises(RecordError, match="cannot be replayed"):
        replay.apply(2, "record.changed", {"nothing": []})
    with pytest.raises(RecordError, match="opens the case again"):
        replay.apply(2, "case.opened", {"pack": "p@1", "referral": {"date": "2025-01-06"}})
