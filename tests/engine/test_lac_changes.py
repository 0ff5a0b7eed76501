"""The looked-after record filled through record items: what each item does, the implicit
changes (a new placement ends the open one…), the refusals, and the replay of the changes
giving the same record."""

from __future__ import annotations

from datetime import date as d
from typing import Any

import pytest

from carepath.core.errors import RecordError
from carepath.core.record_items import LOOKED_AFTER_ITEMS
from carepath.engine.record.case_record import (
    CaseRecord,
    Child,
    apply_values,
    record_from_json,
    record_to_json,
)
from carepath.engine.record.lac_episodes import derive_episodes
from carepath.engine.record.model import clone_record
from carepath.engine.record.replay import RecordReplay, child_json

ENTRY = {"care.start": "2025-05-01", "care.need": "N1",
         "legal_status.start": "2025-05-01", "legal_status.code": "V2",
         "placement.start": "2025-05-01", "placement.type": "U4", "placement.provider": "PR1",
         "placement.carer": "FC1", "placement.urn": "SC123456", "placement.postcode": "E1 7AA",
         "placement.home_postcode": "EC2V 7AA",
         "social_worker.start": "2025-05-01", "social_worker.id": "SW01",
         "social_worker.reason": "FCONTA", "previous_permanence.option": "Z1"}


def new_record() -> CaseRecord:
    return CaseRecord(child=Child("LAC1", birth_date=d(2015, 1, 1), sex="F"))


class Events:
    """A record changed through apply_values, with its changes as record.changed events."""

    def __init__(self) -> None:
        self.record = new_record()
        self.events: list[dict[str, Any]] = []

    def apply(self, values: dict[str, Any]) -> None:
        changes = apply_values(self.record, values)
        self.events.append({"changes": [
            {"item": c.item, "value": c.value.isoformat() if isinstance(c.value, d) else c.value}
            for c in changes]})

    def replayed(self) -> CaseRecord:
        replay = RecordReplay()
        replay.apply(1, "case.opened", {"child": child_json(self.record.child),
                                        "referral": {"date": "2025-04-01"}})
        for seq, payload in enumerate(self.events, start=2):
            replay.apply(seq, "record.changed", payload)
        assert replay.record is not None
        return replay.record


def career() -> Events:
    e = Events()
    e.apply(ENTRY)
    e.apply({"lac_review.date": "2025-05-28", "lac_review.participation": "PN1"})
    e.apply({"missing.start": "2025-06-03", "missing.kind": "M", "missing.end": "2025-06-04",
             "missing.rhi_offered": True, "missing.rhi_accepted": False})
    e.apply({"legal_status.start": "2025-06-15", "legal_status.code": "C1"})
    e.apply({"placement.start": "2025-09-01", "placement.type": "U6", "placement.carer": "FC2",
             "placement.provider": "PR4", "placement.urn": "SC654321",
             "placement.postcode": "E1 7AD", "placement.home_postcode": "EC2V 7AA",
             "placement.reason_changed": "CREQB"})
    e.apply({"social_worker.start": "2025-10-01", "social_worker.id": "SW02",
             "social_worker.reason": "LEFTRL"})
    e.apply({"outcomes.year": 2026, "outcomes.sdq_score": 14, "outcomes.immunisations": True})
    e.apply({"outcomes.year": 2026, "outcomes.teeth_check": True})  # back to 2026's
    e.apply({"outcomes.sdq_reason": "SDQ4", "outcomes.convicted": False,
             "outcomes.health_check": False, "outcomes.health_assessment": True,
             "outcomes.substance_misuse": True, "outcomes.intervention_received": False,
             "outcomes.intervention_offered": True})
    e.apply({"uasc.status": True, "uasc.ceased": "2026-01-01", "mother.status": False})
    e.apply({"adoption.decision": "2025-11-01", "adoption.placement_order": "2025-12-01",
             "adoption.matched": "2026-01-05", "adoption.adopters": 2,
             "adoption.adopters_sex": "MF", "adoption.adopters_legal_status": "L11",
             "adoption.by_foster_carer": False})
    e.apply({"adoption.reversed": "2026-02-01", "adoption.reversed_reason": "RD3"})
    e.apply({"previous_permanence.date": "2019-03", "previous_permanence.la": "E09000001"})
    e.apply({"care.end": "2026-03-01", "care.reason_ceased": "E4A"})
    e.apply({"care_leaver.contact": "2026-03-10", "care_leaver.in_touch": "YES",
             "care_leaver.activity": "F2", "care_leaver.accommodation": "B1",
             "care_leaver.personal_adviser": "PA Jones"})
    e.apply({"mother.status": True, "mother.first_child_born": "2026-03-20"})
    e.apply({"social_worker.end": "2026-03-20"})
    return e


def test_a_career_through_record_items() -> None:
    e = career()
    la = e.record.looked_after
    assert [(s.code, s.start, s.end) for s in la.legal_statuses] == [
        ("V2", d(2025, 5, 1), d(2025, 6, 15)), ("C1", d(2025, 6, 15), d(2026, 3, 1))]
    assert [(p.type, p.end, p.reason_changed) for p in la.placements] == [
        ("U4", d(2025, 9, 1), "CREQB"), ("U6", d(2026, 3, 1), None)]
    assert [(s.worker, s.end) for s in la.social_workers] == [
        ("SW01", d(2025, 10, 1)), ("SW02", d(2026, 3, 20))]
    assert len(la.outcomes) == 1 and la.outcomes[0].teeth_check and la.outcomes[0].sdq_score == 14
    pp = la.previous_permanence
    assert pp is not None and (pp.option, pp.year, pp.month, pp.day) == ("Z1", 2019, 3, None)
    assert la.periods[0].end == d(2026, 3, 1) and la.periods[0].reason_ceased == "E4A"
    assert [(x.rne, x.legal_status, x.placement, x.reason_place_change)
            for x in derive_episodes(la)] == [("S", "V2", "U4", None), ("L", "C1", "U4", "CREQB"),
                                              ("P", "C1", "U6", None)]
    # every looked-after item was used
    used = {c["item"] for ev in e.events for c in ev["changes"]}
    assert used == {i.path for i in LOOKED_AFTER_ITEMS}


def test_the_changes_replayed_give_the_same_record() -> None:
    e = career()
    replayed = e.replayed()
    assert replayed.looked_after == e.record.looked_after


def test_json_and_clone_keep_the_looked_after_record() -> None:
    record = career().record
    assert record_from_json(record_to_json(record)) == record
    copy = clone_record(record)
    assert copy == record
    copy.looked_after.placements[0].type = "K2"
    assert record.looked_after.placements[0].type == "U4"


@pytest.mark.parametrize(("values", "message"), [
    ({"placement.start": "2025-05-01", "placement.type": "U4"}, "not looked after on 2025-05-01"),
    ({"legal_status.code": "C2"}, "no legal status recorded"),
    ({"care.start": "2025-05-01"}, None),
])
def test_items_need_what_they_belong_to(values: dict[str, Any], message: str | None) -> None:
    record = new_record()
    if message is None:
        apply_values(record, values)  # no episode needed: the looked-after record is the child's
        return
    with pytest.raises(RecordError, match=message):
        apply_values(record, values)


@pytest.mark.parametrize(("values", "message"), [
    ({"care.start": "2025-06-01"}, "already looked after"),
    ({"placement.start": "2025-06-01"}, "Give 'placement.type'"),
    ({"placement.start": "2025-05-01", "placement.type": "U6"}, "must start after the current"),
    ({"placement.start": "2025-04-01", "placement.type": "U6"}, "not looked after on 2025-04-01"),
    ({"placement.reason_changed": "CARPL"}, "No placement has ended"),
    ({"placement.provider": "PR9"}, "not a code"),
    ({"placement.type": "T1", "placement.provider": "PR1"}, "has no provider"),
    ({"care.end": "2025-05-01"}, "must end after the day it started"),
    ({"care.reason_ceased": "X1"}, "not a code"),
    ({"care.reason_ceased": "E4A"}, "no end date"),
    ({"lac_review.date": "2025-04-01"}, "not looked after on 2025-04-01"),
    ({"missing.start": "2025-06-01"}, "Give 'missing.kind'"),
    ({"social_worker.start": "2025-06-01", "social_worker.id": "JB"}, "must start with SW"),
    ({"uasc.ceased": "2025-06-01"}, "never recorded as"),
    ({"outcomes.year": 1999}, "year the collection ends"),
    ({"outcomes.year": 2026, "outcomes.sdq_score": 41}, "0 to 40"),
    ({"adoption.decision": "2025-06-01", "adoption.adopters": 3}, "must be 1 or 2"),
    ({"previous_permanence.option": "P1", "previous_permanence.date": "March 2019"},
     "YYYY, YYYY-MM or YYYY-MM-DD"),
])
def test_refusals_change_nothing(values: dict[str, Any], message: str) -> None:
    record = new_record()
    apply_values(record, ENTRY)
    before = record_to_json(record)
    with pytest.raises(RecordError, match=message):
        apply_values(record, values)
    assert record_to_json(record) == before


def test_previous_permanence_needs_its_option_first() -> None:
    with pytest.raises(RecordError, match="give the option"):
        apply_values(new_record(), {"previous_permanence.date": "2019"})


def test_a_new_period_must_not_start_the_day_the_last_ended() -> None:
    record = new_record()
    apply_values(record, ENTRY)
    apply_values(record, {"care.end": "2025-07-01", "care.reason_ceased": "E4A"})
    with pytest.raises(RecordError, match="rule 431"):
        apply_values(record, {"care.start": "2025-07-01"})
    apply_values(record, {"care.start": "2025-07-02", "legal_status.start": "2025-07-02",
                          "legal_status.code": "V2", "placement.start": "2025-07-02",
                          "placement.type": "U4"})
    assert [p.start for p in record.looked_after.periods] == [d(2025, 5, 1), d(2025, 7, 2)]
    assert record.looked_after.placements[0].end == d(2025, 7, 1)  # ended with its period
