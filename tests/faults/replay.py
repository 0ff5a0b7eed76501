"""A case's record worked out again from its events alone, for the fault suites.

The event log holds every change to the record: the referral of each episode (``case.opened``,
``referral.recorded``), corrected child details (``child.details_changed``) and each form's
record items (``record.changed``, item by item with the value written). Replaying them in order
onto the child as first referred must give the record the database holds; anything else is a
half-written or silently altered case. The child's details at the first referral are not in
the log (``case.opened`` carries the referral only), so the caller gives them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from carepath.engine.record.case_record import (
    CaseRecord,
    Child,
    apply_values,
    as_date,
    new_episode,
    optional_date,
    record_to_json,
)
from carepath.service.types import HistoryEntry

_DATES = {"birth_date", "expected_birth_date"}


def replay(child: Child, events: Iterable[HistoryEntry]) -> CaseRecord:
    record = CaseRecord(child=dataclasses.replace(child, disabilities=list(child.disabilities)))
    for event in events:
        payload: Any = event.payload
        if event.kind in ("case.opened", "referral.recorded"):
            referral = payload["referral"]
            new_episode(record, as_date(referral["date"]), referral.get("source"))
        elif event.kind == "child.details_changed":
            for change in payload["changes"]:
                name = change["item"].removeprefix("child.")
                value = change["after"]
                if name in _DATES:
                    value = optional_date(value)
                elif name == "disabilities":
                    value = list(value or [])
                setattr(record.child, name, value)
        elif event.kind == "record.changed":
            apply_values(record, {c["item"]: c["value"] for c in payload["changes"]})
    return record


def differences(stored: CaseRecord, replayed: CaseRecord) -> list[str]:
    """Each top-level part (the child, each episode) that differs, as text; empty if equal."""
    a, b = record_to_json(stored), record_to_json(replayed)
    found: list[str] = []
    if a["child"] != b["child"]:
        found.append(f"child: stored {a['child']} != replayed {b['child']}")
    if len(a["episodes"]) != len(b["episodes"]):
        found.append(f"{len(a['episodes'])} episodes stored, {len(b['episodes'])} replayed")
    for i, (x, y) in enumerate(zip(a["episodes"], b["episodes"], strict=False)):
        if x != y:
            found.append(f"episode {i}: stored {x} != replayed {y}")
    return found
