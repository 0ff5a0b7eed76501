"""Writing many case records fast, in the shape ``records.save_record`` writes them.

``save_record`` issues a few statements per case (it is built for one completion at a time):
about 4-10 ms per new case here, far too slow for 100,000 children. This writes the same rows
(the same columns, computed by the same value functions of ``carepath.adapters.db.records``) with
explicit ids and one multi-row INSERT per table per batch, into a database that is empty.
:func:`check_round_trip` proves, in every run, that ``load_record`` reads back the records written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from carepath.adapters.db import models as m
from carepath.adapters.db import records as r
from carepath.engine.record.case_record import CaseRecord


class BulkWriter:
    """Appends records as new cases with ids 1, 2, ... (the database must have no cases)."""

    def __init__(self, pack_name: str, pack_version: str) -> None:
        self.pack_name = pack_name
        self.pack_version = pack_version
        self.case_id = 0
        self.episode_id = 0
        self.plan_id = 0
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def write(self, session: Session, records: Sequence[tuple[CaseRecord, str | None]]) -> None:
        rows: dict[Any, list[dict[str, Any]]] = {
            model: [] for model in (m.CaseRow, m.ChildRow, m.EpisodeRow, m.AssessmentRow,
                                    m.Section47Row, m.CPPlanRow, m.CPReviewRow, m.CINPlanRow)}
        for record, worker in records:
            self.case_id += 1
            case_id = self.case_id
            rows[m.CaseRow].append({
                "id": case_id, "la_child_id": record.child.la_child_id,
                "pack_name": self.pack_name, "pack_version": self.pack_version, "worker": worker,
                "team": None, "version": 1, "event_seq": 0, "head_hash": "",
                "created_at": self.at})
            rows[m.ChildRow].append({"case_id": case_id, **r._child_values(record.child)})
            for seq, episode in enumerate(record.episodes):
                self.episode_id += 1
                episode_id = self.episode_id
                rows[m.EpisodeRow].append({"id": episode_id, "case_id": case_id, "seq": seq,
                                           **r._episode_values(episode)})
                lists: list[tuple[Any, Sequence[Any], Callable[[Any], dict[str, Any]]]] = [
                    (m.AssessmentRow, episode.assessments, r._assessment_values),
                    (m.Section47Row, episode.s47s, r._s47_values),
                    (m.CINPlanRow, episode.cin_plans, r._cin_plan_values),
                ]
                for model, items, values in lists:
                    for item_seq, item in enumerate(items):
                        rows[model].append({"episode_id": episode_id, "seq": item_seq,
                                            **values(item)})
                for plan_seq, plan in enumerate(episode.cp_plans):
                    self.plan_id += 1
                    rows[m.CPPlanRow].append({"id": self.plan_id, "episode_id": episode_id,
                                              "seq": plan_seq, **r._cp_plan_values(plan)})
                    for review_seq, review in enumerate(plan.reviews):
                        rows[m.CPReviewRow].append({"cp_plan_id": self.plan_id,
                                                    "seq": review_seq,
                                                    **r._review_values(review)})
        for model, table_rows in rows.items():  # parents before children
            if table_rows:
                session.execute(insert(model), table_rows)


def check_round_trip(session: Session, written: Iterable[tuple[int, CaseRecord]]) -> int:
    """Fail unless ``load_record`` gives back each record; returns how many were checked."""
    checked = 0
    for case_id, record in written:
        loaded = r.load_record(session, case_id)
        if loaded != record:
            raise AssertionError(f"case {case_id} reads back differently:\n{loaded}\n!=\n{record}")
        checked += 1
    return checked
