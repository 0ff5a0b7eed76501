"""The canonical case record <-> its rows.

:func:`load_record` reads a case's record in a fixed, small number of queries (one per table,
ordered by position), whatever its size. :func:`save_record` compares the record as it was
loaded with the record as it is now and writes only the rows that differ: rows are identified by
position (the episode's ``seq``, then the item's ``seq`` within its episode or plan), so adding
one review to a plan with a thousand reviews writes one row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from carepath.core.errors import NotFoundError, RecordError
from carepath.engine.record.case_record import (
    Assessment,
    CaseRecord,
    Child,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
)

from .models import (
    AssessmentRow,
    CaseRow,
    ChildRow,
    CINPlanRow,
    CPPlanRow,
    CPReviewRow,
    EpisodeRow,
    Section47Row,
)

T = TypeVar("T")
Values = dict[str, Any]

_NO_NEW_ROWS: dict[str, Any] = {"synchronize_session": False}


# --- codes ---------------------------------------------------------------------------------------


def join_codes(codes: Sequence[str], what: str) -> str:
    for code in codes:
        if "," in code:
            raise RecordError(f"A {what} code cannot contain a comma: {code!r}")
    return ",".join(codes)


def split_codes(text: str | None) -> list[str]:
    return text.split(",") if text else []


def join_dates(days: Sequence[date]) -> str:
    return ",".join(d.isoformat() for d in days)


def split_dates(text: str | None) -> list[date]:
    return [date.fromisoformat(d) for d in text.split(",")] if text else []


# --- record items <-> column values --------------------------------------------------------------


def _child_values(child: Child) -> Values:
    return {
        "upn": child.upn,
        "upn_unknown": child.upn_unknown,
        "birth_date": child.birth_date,
        "expected_birth_date": child.expected_birth_date,
        "sex": child.sex,
        "ethnicity": child.ethnicity,
        "disabilities": join_codes(child.disabilities, "disability"),
    }


def _episode_values(episode: Episode) -> Values:
    return {
        "referral_date": episode.referral_date,
        "referral_source": episode.referral_source,
        "referral_nfa": episode.referral_nfa,
        "primary_need": episode.primary_need,
        "closure_date": episode.closure_date,
        "closure_reason": episode.closure_reason,
        "emergency_protection": join_dates(episode.emergency_protection),
    }


def _assessment_values(item: Assessment) -> Values:
    return {
        "start_date": item.start,
        "authorised_date": item.authorised,
        "factors": join_codes(item.factors, "assessment factor"),
    }


def _s47_values(item: Section47) -> Values:
    return {
        "start_date": item.start,
        "icpc_date": item.icpc_date,
        "icpc_not_required": item.icpc_not_required,
    }


def _cp_plan_values(item: CPPlan) -> Values:  # reviews are rows of their own
    return {
        "start_date": item.start,
        "end_date": item.end,
        "initial_category": item.initial_category,
        "latest_category": item.latest_category,
    }


def _cin_plan_values(item: CINPlan) -> Values:
    return {"start_date": item.start, "end_date": item.end}


def _review_values(review: date) -> Values:
    return {"review_date": review}


# --- load ----------------------------------------------------------------------------------------


def load_record(session: Session, case_id: int) -> CaseRecord:
    """The case's record: 7 queries (case and child, episodes, and one per item table)."""
    found = session.execute(
        select(CaseRow.la_child_id, ChildRow)
        .outerjoin(ChildRow, ChildRow.case_id == CaseRow.id)
        .where(CaseRow.id == case_id)
    ).one_or_none()
    if found is None:
        raise NotFoundError(f"There is no case {case_id}")
    la_child_id, child_row = found
    child = Child(la_child_id=la_child_id)
    if child_row is not None:
        child = Child(
            la_child_id=la_child_id,
            upn=child_row.upn,
            upn_unknown=child_row.upn_unknown,
            birth_date=child_row.birth_date,
            expected_birth_date=child_row.expected_birth_date,
            sex=child_row.sex,
            ethnicity=child_row.ethnicity,
            disabilities=split_codes(child_row.disabilities),
        )
    record = CaseRecord(child=child)

    episodes: dict[int, Episode] = {}  # by episode row id
    for row in session.execute(
        select(
            EpisodeRow.id,
            EpisodeRow.seq,
            EpisodeRow.referral_date,
            EpisodeRow.referral_source,
            EpisodeRow.referral_nfa,
            EpisodeRow.primary_need,
            EpisodeRow.closure_date,
            EpisodeRow.closure_reason,
            EpisodeRow.emergency_protection,
        )
        .where(EpisodeRow.case_id == case_id)
        .order_by(EpisodeRow.seq)
    ):
        episode = Episode(
            referral_date=row.referral_date,
            referral_source=row.referral_source,
            referral_nfa=row.referral_nfa,
            primary_need=row.primary_need,
            closure_date=row.closure_date,
            closure_reason=row.closure_reason,
            emergency_protection=split_dates(row.emergency_protection),
        )
        _place(record.episodes, row.seq, episode, case_id, "episode")
        episodes[row.id] = episode

    if not episodes:
        return record

    def items(model: Any, columns: Sequence[InstrumentedAttribute[Any]]) -> Iterable[Any]:
        return session.execute(
            select(model.episode_id, model.seq, *columns)
            .join(EpisodeRow, EpisodeRow.id == model.episode_id)
            .where(EpisodeRow.case_id == case_id)
            .order_by(EpisodeRow.seq, model.seq)
        )

    for row in items(
        AssessmentRow,
        [AssessmentRow.start_date, AssessmentRow.authorised_date, AssessmentRow.factors],
    ):
        assessment = Assessment(
            start=row.start_date, authorised=row.authorised_date, factors=split_codes(row.factors)
        )
        _place(episodes[row.episode_id].assessments, row.seq, assessment, case_id, "assessment")

    for row in items(
        Section47Row,
        [Section47Row.start_date, Section47Row.icpc_date, Section47Row.icpc_not_required],
    ):
        s47 = Section47(
            start=row.start_date, icpc_date=row.icpc_date, icpc_not_required=row.icpc_not_required
        )
        _place(episodes[row.episode_id].s47s, row.seq, s47, case_id, "section 47 enquiry")

    plans: dict[int, CPPlan] = {}  # by plan row id
    for row in items(
        CPPlanRow,
        [
            CPPlanRow.id,
            CPPlanRow.start_date,
            CPPlanRow.end_date,
            CPPlanRow.initial_category,
            CPPlanRow.latest_category,
        ],
    ):
        plan = CPPlan(
            start=row.start_date,
            end=row.end_date,
            initial_category=row.initial_category,
            latest_category=row.latest_category,
        )
        _place(episodes[row.episode_id].cp_plans, row.seq, plan, case_id, "child protection plan")
        plans[row.id] = plan

    if plans:
        for review in session.execute(
            select(CPReviewRow.cp_plan_id, CPReviewRow.seq, CPReviewRow.review_date)
            .join(CPPlanRow, CPPlanRow.id == CPReviewRow.cp_plan_id)
            .join(EpisodeRow, EpisodeRow.id == CPPlanRow.episode_id)
            .where(EpisodeRow.case_id == case_id)
            .order_by(EpisodeRow.seq, CPPlanRow.seq, CPReviewRow.seq)
        ):
            plan_reviews = plans[review.cp_plan_id].reviews
            _place(plan_reviews, review.seq, review.review_date, case_id, "review")

    for row in items(CINPlanRow, [CINPlanRow.start_date, CINPlanRow.end_date]):
        cin_plan = CINPlan(start=row.start_date, end=row.end_date)
        _place(episodes[row.episode_id].cin_plans, row.seq, cin_plan, case_id, "CIN plan")

    return record


def _place(items: list[T], seq: int, item: T, case_id: int, what: str) -> None:
    """Append ``item``, which must be the next in order (rows are read ordered by seq)."""
    if seq != len(items):
        raise RecordError(
            f"The stored record of case {case_id} is inconsistent: "
            f"{what} number {seq} follows {len(items)} earlier ones"
        )
    items.append(item)


# --- save ----------------------------------------------------------------------------------------


@dataclass
class _ItemTable:
    """How one list in an episode maps to a table keyed by (episode_id, seq)."""

    model: Any
    items: Callable[[Episode], Sequence[Any]]
    values: Callable[[Any], Values]


_ASSESSMENTS = _ItemTable(AssessmentRow, lambda e: e.assessments, _assessment_values)
_S47S = _ItemTable(Section47Row, lambda e: e.s47s, _s47_values)
_CIN_PLANS = _ItemTable(CINPlanRow, lambda e: e.cin_plans, _cin_plan_values)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class _Writer:
    def __init__(self, session: Session, case_id: int) -> None:
        self.session = session
        self.case_id = case_id
        self.rows = 0
        self._episode_ids: dict[int, int] | None = None

    # -- helpers --

    def execute(self, statement: Any, params: Any = None) -> Any:
        return self.session.execute(statement, params, execution_options=_NO_NEW_ROWS)

    def episode_id(self, seq: int) -> int:
        if self._episode_ids is None:
            self._episode_ids = {
                row.seq: row.id
                for row in self.session.execute(
                    select(EpisodeRow.seq, EpisodeRow.id).where(EpisodeRow.case_id == self.case_id)
                )
            }
        return self._episode_ids[seq]

    def insert_returning_id(self, model: Any, values: Values) -> int:
        self.rows += 1
        return int(
            self.session.execute(insert(model).values(values).returning(model.id)).scalar_one()
        )

    def insert_many(self, model: Any, rows: list[Values]) -> None:
        if rows:
            self.session.execute(insert(model), rows)
            self.rows += len(rows)

    def update_where(self, model: Any, where: Sequence[Any], values: Values) -> None:
        result = self.execute(update(model).where(*where).values(values))
        count = _rowcount(result)
        if count != 1:
            raise RecordError(
                f"The stored record of case {self.case_id} does not match the record it was "
                f"loaded as ({model.__tablename__}: {count} rows matched, expected 1)"
            )
        self.rows += 1

    def delete_where(self, model: Any, where: Sequence[Any]) -> None:
        self.rows += _rowcount(self.execute(delete(model).where(*where)))

    # -- the record --

    def child(self, before: Child | None, after: Child) -> None:
        if before is None or before.la_child_id != after.la_child_id:
            result = self.session.execute(
                update(CaseRow)
                .where(CaseRow.id == self.case_id, CaseRow.la_child_id != after.la_child_id)
                .values(la_child_id=after.la_child_id)
                .execution_options(synchronize_session="evaluate")
            )
            self.rows += _rowcount(result)
        values = _child_values(after)
        if before is not None and _child_values(before) == values:
            return
        if before is not None:
            result = self.execute(
                update(ChildRow).where(ChildRow.case_id == self.case_id).values(values)
            )
            if _rowcount(result) == 1:
                self.rows += 1
                return
        # A new record, or one loaded before its child row was ever written.
        self.session.execute(insert(ChildRow).values(case_id=self.case_id, **values))
        self.rows += 1

    def episodes(self, before: Sequence[Episode], after: Sequence[Episode]) -> None:
        for seq, episode in enumerate(after):
            if seq >= len(before):
                self.new_episode(seq, episode)
                continue
            old = before[seq]
            if old == episode:
                continue
            values = _episode_values(episode)
            if _episode_values(old) != values:
                self.update_where(
                    EpisodeRow,
                    [EpisodeRow.case_id == self.case_id, EpisodeRow.seq == seq],
                    values,
                )
            for table in (_ASSESSMENTS, _S47S, _CIN_PLANS):
                if table.items(old) != table.items(episode):
                    self.item_list(
                        table, self.episode_id(seq), table.items(old), table.items(episode)
                    )
            if old.cp_plans != episode.cp_plans:
                self.cp_plans(self.episode_id(seq), old.cp_plans, episode.cp_plans)
        if len(before) > len(after):
            self.delete_episodes_from(len(after))

    def new_episode(self, seq: int, episode: Episode) -> None:
        episode_id = self.insert_returning_id(
            EpisodeRow, {"case_id": self.case_id, "seq": seq, **_episode_values(episode)}
        )
        if self._episode_ids is not None:
            self._episode_ids[seq] = episode_id
        for table in (_ASSESSMENTS, _S47S, _CIN_PLANS):
            self.item_list(table, episode_id, [], table.items(episode))
        self.cp_plans(episode_id, [], episode.cp_plans)

    def delete_episodes_from(self, first_seq: int) -> None:
        removed = select(EpisodeRow.id).where(
            EpisodeRow.case_id == self.case_id, EpisodeRow.seq >= first_seq
        )
        removed_plans = select(CPPlanRow.id).where(CPPlanRow.episode_id.in_(removed))
        self.delete_where(CPReviewRow, [CPReviewRow.cp_plan_id.in_(removed_plans)])
        for model in (AssessmentRow, Section47Row, CPPlanRow, CINPlanRow):
            self.delete_where(model, [model.episode_id.in_(removed)])
        self.delete_where(
            EpisodeRow, [EpisodeRow.case_id == self.case_id, EpisodeRow.seq >= first_seq]
        )

    def item_list(
        self, table: _ItemTable, episode_id: int, before: Sequence[Any], after: Sequence[Any]
    ) -> None:
        model = table.model
        for seq in range(min(len(before), len(after))):
            if before[seq] != after[seq]:
                self.update_where(
                    model,
                    [model.episode_id == episode_id, model.seq == seq],
                    table.values(after[seq]),
                )
        self.insert_many(
            model,
            [
                {"episode_id": episode_id, "seq": seq, **table.values(after[seq])}
                for seq in range(len(before), len(after))
            ],
        )
        if len(before) > len(after):
            self.delete_where(model, [model.episode_id == episode_id, model.seq >= len(after)])

    def cp_plans(self, episode_id: int, before: Sequence[CPPlan], after: Sequence[CPPlan]) -> None:
        for seq, plan in enumerate(after):
            if seq >= len(before):
                plan_id = self.insert_returning_id(
                    CPPlanRow, {"episode_id": episode_id, "seq": seq, **_cp_plan_values(plan)}
                )
                self.reviews(plan_id, [], plan.reviews)
                continue
            old = before[seq]
            if old == plan:
                continue
            values = _cp_plan_values(plan)
            if _cp_plan_values(old) != values:
                self.update_where(
                    CPPlanRow, [CPPlanRow.episode_id == episode_id, CPPlanRow.seq == seq], values
                )
            if old.reviews != plan.reviews:
                plan_id = self.session.execute(
                    select(CPPlanRow.id).where(
                        CPPlanRow.episode_id == episode_id, CPPlanRow.seq == seq
                    )
                ).scalar_one()
                self.reviews(plan_id, old.reviews, plan.reviews)
        if len(before) > len(after):
            removed = select(CPPlanRow.id).where(
                CPPlanRow.episode_id == episode_id, CPPlanRow.seq >= len(after)
            )
            self.delete_where(CPReviewRow, [CPReviewRow.cp_plan_id.in_(removed)])
            self.delete_where(
                CPPlanRow, [CPPlanRow.episode_id == episode_id, CPPlanRow.seq >= len(after)]
            )

    def reviews(self, plan_id: int, before: Sequence[date], after: Sequence[date]) -> None:
        for seq in range(min(len(before), len(after))):
            if before[seq] != after[seq]:
                self.update_where(
                    CPReviewRow,
                    [CPReviewRow.cp_plan_id == plan_id, CPReviewRow.seq == seq],
                    _review_values(after[seq]),
                )
        self.insert_many(
            CPReviewRow,
            [
                {"cp_plan_id": plan_id, "seq": seq, **_review_values(after[seq])}
                for seq in range(len(before), len(after))
            ],
        )
        if len(before) > len(after):
            self.delete_where(
                CPReviewRow, [CPReviewRow.cp_plan_id == plan_id, CPReviewRow.seq >= len(after)]
            )


def save_record(
    session: Session, case_id: int, before: CaseRecord | None, after: CaseRecord
) -> int:
    """Write the difference between ``before`` (the record as loaded, None for a new case) and
    ``after``; returns the number of rows inserted, updated or deleted.

    ``before`` must be the record exactly as :func:`load_record` returned it, and ``after`` a
    changed copy of it; passing the same object for both means "unchanged" and writes nothing. Rows are matched by position, so an item removed from
    the middle of a list shifts the ones after it (each then counts as updated).
    """
    if before is after:
        return 0  # the same object: nothing changed (changes made in place cannot be seen)
    writer = _Writer(session, case_id)
    writer.child(before.child if before is not None else None, after.child)
    writer.episodes(before.episodes if before is not None else [], after.episodes)
    return writer.rows
