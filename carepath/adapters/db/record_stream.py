"""Every case's record, streamed in batches for the statutory returns.

:func:`iter_cases` reads cases in order of id, ``batch`` at a time, with eight queries per batch
(cases with their child row, episodes, assessments, section 47 enquiries, child protection plans,
their reviews, child in need plans): the number of queries does not grow with the number of cases
in a batch, and only one batch of records is held at once, so 100,000 children stream in bounded
memory.

Each batch is read as a block of consecutive case ids (``id BETWEEN first AND last``), which needs
no long ``IN`` lists. For one consistent snapshot of the whole database run the iteration in one
transaction with snapshot isolation (the CLI does, on PostgreSQL with ``REPEATABLE READ``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.engine.errors import RecordError
from carepath.engine.record import (
    Assessment,
    CaseRecord,
    Child,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
)
from carepath.returns import CaseData

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
from .records import split_codes

__all__ = ["CaseData", "iter_cases", "count_cases"]

T = TypeVar("T")


def count_cases(session: Session) -> int:
    """How many cases :func:`iter_cases` will yield."""
    from sqlalchemy import func

    return int(session.execute(select(func.count()).select_from(CaseRow)).scalar_one())


def iter_cases(session: Session, batch: int = 1000) -> Iterator[CaseData]:
    """Every case in the database, in order of id, with its record."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    after = 0
    while True:
        heads = session.execute(
            select(
                CaseRow.id,
                CaseRow.la_child_id,
                CaseRow.worker,
                CaseRow.team,
                ChildRow.upn,
                ChildRow.upn_unknown,
                ChildRow.birth_date,
                ChildRow.expected_birth_date,
                ChildRow.sex,
                ChildRow.ethnicity,
                ChildRow.disabilities,
            )
            .outerjoin(ChildRow, ChildRow.case_id == CaseRow.id)
            .where(CaseRow.id > after)
            .order_by(CaseRow.id)
            .limit(batch)
        ).all()
        if not heads:
            return
        first, last = heads[0].id, heads[-1].id
        yield from _load_batch(session, heads, first, last)
        after = last
        if len(heads) < batch:
            return


def _load_batch(session: Session, heads: Sequence[Any], first: int, last: int) -> Iterator[CaseData]:
    records: dict[int, CaseRecord] = {}
    cases: list[CaseData] = []
    for h in heads:
        record = CaseRecord(
            child=Child(
                la_child_id=h.la_child_id,
                upn=h.upn,
                upn_unknown=h.upn_unknown,
                birth_date=h.birth_date,
                expected_birth_date=h.expected_birth_date,
                sex=h.sex,
                ethnicity=h.ethnicity,
                disabilities=split_codes(h.disabilities),
            )
        )
        records[h.id] = record
        cases.append(CaseData(h.id, h.la_child_id, h.worker, h.team, record))

    in_batch = EpisodeRow.case_id.between(first, last)
    episodes: dict[int, tuple[int, Episode]] = {}  # episode row id -> (case id, episode)
    for row in session.execute(
        select(
            EpisodeRow.id,
            EpisodeRow.case_id,
            EpisodeRow.seq,
            EpisodeRow.referral_date,
            EpisodeRow.referral_source,
            EpisodeRow.referral_nfa,
            EpisodeRow.primary_need,
            EpisodeRow.closure_date,
            EpisodeRow.closure_reason,
        )
        .where(in_batch)
        .order_by(EpisodeRow.case_id, EpisodeRow.seq)
    ):
        episode = Episode(
            referral_date=row.referral_date,
            referral_source=row.referral_source,
            referral_nfa=bool(row.referral_nfa),
            primary_need=row.primary_need,
            closure_date=row.closure_date,
            closure_reason=row.closure_reason,
        )
        _place(records[row.case_id].episodes, row.seq, episode, row.case_id, "episode")
        episodes[row.id] = (row.case_id, episode)

    if episodes:
        _load_items(session, in_batch, episodes)
    yield from cases


def _load_items(session: Session, in_batch: Any, episodes: dict[int, tuple[int, Episode]]) -> None:
    def rows(model: Any, *columns: Any) -> Any:
        return session.execute(
            select(model.episode_id, model.seq, *columns)
            .join(EpisodeRow, EpisodeRow.id == model.episode_id)
            .where(in_batch)
            .order_by(model.episode_id, model.seq)
        )

    for row in rows(
        AssessmentRow, AssessmentRow.start_date, AssessmentRow.authorised_date,
        AssessmentRow.factors,
    ):
        case_id, episode = episodes[row.episode_id]
        item = Assessment(start=row.start_date, authorised=row.authorised_date,
                          factors=split_codes(row.factors))
        _place(episode.assessments, row.seq, item, case_id, "assessment")

    for row in rows(
        Section47Row, Section47Row.start_date, Section47Row.icpc_date,
        Section47Row.icpc_not_required,
    ):
        case_id, episode = episodes[row.episode_id]
        s47 = Section47(start=row.start_date, icpc_date=row.icpc_date,
                        icpc_not_required=bool(row.icpc_not_required))
        _place(episode.s47s, row.seq, s47, case_id, "section 47 enquiry")

    plans: dict[int, tuple[int, CPPlan]] = {}
    for row in rows(
        CPPlanRow, CPPlanRow.id, CPPlanRow.start_date, CPPlanRow.end_date,
        CPPlanRow.initial_category, CPPlanRow.latest_category,
    ):
        case_id, episode = episodes[row.episode_id]
        plan = CPPlan(start=row.start_date, end=row.end_date,
                      initial_category=row.initial_category,
                      latest_category=row.latest_category)
        _place(episode.cp_plans, row.seq, plan, case_id, "child protection plan")
        plans[row.id] = (case_id, plan)

    if plans:
        for review in session.execute(
            select(CPReviewRow.cp_plan_id, CPReviewRow.seq, CPReviewRow.review_date)
            .join(CPPlanRow, CPPlanRow.id == CPReviewRow.cp_plan_id)
            .join(EpisodeRow, EpisodeRow.id == CPPlanRow.episode_id)
            .where(in_batch)
            .order_by(CPReviewRow.cp_plan_id, CPReviewRow.seq)
        ):
            case_id, plan = plans[review.cp_plan_id]
            _place(plan.reviews, review.seq, review.review_date, case_id, "review")

    for row in rows(CINPlanRow, CINPlanRow.start_date, CINPlanRow.end_date):
        case_id, episode = episodes[row.episode_id]
        _place(episode.cin_plans, row.seq, CINPlan(start=row.start_date, end=row.end_date),
               case_id, "CIN plan")


def _place(items: list[T], seq: int, item: T, case_id: int, what: str) -> None:
    """Append ``item``, which must be the next in order (rows come ordered by seq)."""
    if seq != len(items):
        raise RecordError(
            f"The stored record of case {case_id} is inconsistent: "
            f"{what} number {seq} follows {len(items)} earlier ones"
        )
    items.append(item)
