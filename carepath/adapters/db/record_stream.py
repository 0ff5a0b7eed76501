"""Every case's record, streamed in batches for the statutory returns.

:func:`iter_looked_after` streams only the children with a looked-after record, with only their
details and that record (the SSDA903's input), in the same way.

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
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from carepath.core.errors import RecordError
from carepath.engine.record.case_record import (
    Assessment,
    CaseRecord,
    Child,
    CINPlan,
    CPPlan,
    Episode,
    Section47,
)
from carepath.returns import CaseData
from carepath.returns.annex_a_care import CareCase
from carepath.returns.ssda903 import LookedAfterChild

from .lac_records import load_batch
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
from .models_lac import LookedAfterRow
from .records import split_dates

__all__ = ["CaseData", "iter_cases", "count_cases", "iter_looked_after", "count_looked_after"]


def count_cases(session: Session) -> int:
    """How many cases :func:`iter_cases` will yield."""
    return int(session.execute(select(func.count()).select_from(CaseRow)).scalar_one())


def iter_cases(session: Session, batch: int = 1000) -> Iterator[CaseData]:
    """Every case in the database, in order of id, with its record."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    # Core statements on the session's connection: rows as plain tuples, no ORM bookkeeping
    # (this is the hot path of a 100,000-child return).
    connection = session.connection()
    after = 0
    while True:
        heads = connection.execute(
            select(
                CaseRow.id,
                CaseRow.la_child_id,
                CaseRow.worker,
                CaseRow.team,
                *_CHILD_COLUMNS,
                LookedAfterRow.case_id,
            )
            .outerjoin(ChildRow, ChildRow.case_id == CaseRow.id)
            .outerjoin(LookedAfterRow, LookedAfterRow.case_id == CaseRow.id)
            .where(CaseRow.id > after)
            .order_by(CaseRow.id)
            .limit(batch)
        ).all()
        if not heads:
            return
        first, last = heads[0][0], heads[-1][0]
        yield from _load_batch(connection, heads, first, last)
        after = last
        if len(heads) < batch:
            return


# The child's columns as every stream reads them, after the case's own (id, LA child ID, worker,
# team), and the Child they make.
_CHILD_COLUMNS = (ChildRow.upn, ChildRow.upn_unknown, ChildRow.birth_date,
                  ChildRow.expected_birth_date, ChildRow.sex, ChildRow.ethnicity,
                  ChildRow.disabilities)


def _child(la_child_id: str, upn: str | None, upn_unknown: str | None, birth_date: Any,
           expected_birth_date: Any, sex: str | None, ethnicity: str | None,
           disabilities: str | None) -> Child:
    return Child(la_child_id=la_child_id, upn=upn, upn_unknown=upn_unknown,
                 birth_date=birth_date, expected_birth_date=expected_birth_date, sex=sex,
                 ethnicity=ethnicity, disabilities=disabilities.split(",") if disabilities else [])


def _inconsistent(case_id: int, what: str, seq: int, before: int) -> RecordError:
    return RecordError(
        f"The stored record of case {case_id} is inconsistent: "
        f"{what} number {seq} follows {before} earlier ones"
    )


def _load_batch(
    connection: Connection, heads: Sequence[Any], first: int, last: int
) -> Iterator[CaseData]:
    records: dict[int, CaseRecord] = {}
    cases: list[CaseData] = []
    looked_after = False
    for case_id, la_child_id, worker, team, *child, lac_case in heads:
        looked_after = looked_after or lac_case is not None
        record = CaseRecord(child=_child(la_child_id, *child))
        records[case_id] = record
        cases.append(CaseData(case_id, la_child_id, worker, team, record))

    in_batch = EpisodeRow.case_id.between(first, last)
    episodes: dict[int, tuple[int, Episode]] = {}  # episode row id -> (case id, episode)
    for (episode_id, case_id, seq, referral_date, source, nfa, need, closure_date,
         closure_reason, protection) in connection.execute(
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
            EpisodeRow.emergency_protection,
        )
        .where(in_batch)
        .order_by(EpisodeRow.case_id, EpisodeRow.seq)
    ).all():
        case_episodes = records[case_id].episodes
        if seq != len(case_episodes):
            raise _inconsistent(case_id, "episode", seq, len(case_episodes))
        episode = Episode(
            referral_date=referral_date,
            referral_source=source,
            referral_nfa=bool(nfa),
            primary_need=need,
            closure_date=closure_date,
            closure_reason=closure_reason,
            emergency_protection=split_dates(protection),
        )
        case_episodes.append(episode)
        episodes[episode_id] = (case_id, episode)

    if episodes:
        _load_items(connection, in_batch, episodes)
    if looked_after:
        for case_id, lac in load_batch(connection, first, last).items():
            records[case_id].looked_after = lac
    yield from cases


def count_looked_after(session: Session) -> int:
    """How many cases :func:`iter_looked_after` will yield."""
    return int(session.execute(select(func.count()).select_from(LookedAfterRow)).scalar_one())


def iter_looked_after(session: Session, batch: int = 1000) -> Iterator[LookedAfterChild]:
    """Every child with a looked-after record, in order of case id, with the child's details
    and that record only (what the SSDA903 reads): one query for the batch's children and one
    per looked-after table, ``batch`` children at a time (bounded memory)."""
    for child, _worker, _team in _looked_after(session, batch):
        yield child


def iter_care_cases(session: Session, batch: int = 1000) -> Iterator[CareCase]:
    """As :func:`iter_looked_after`, with the worker and team holding each case (Annex A)."""
    for child, worker, team in _looked_after(session, batch):
        yield CareCase(child, team=team, worker=worker)


def _looked_after(session: Session, batch: int
                  ) -> Iterator[tuple[LookedAfterChild, str | None, str | None]]:
    if batch < 1:
        raise ValueError("batch must be at least 1")
    connection = session.connection()
    after = 0
    while True:
        heads = connection.execute(
            select(CaseRow.id, CaseRow.la_child_id, CaseRow.worker, CaseRow.team,
                   *_CHILD_COLUMNS)
            .join(LookedAfterRow, LookedAfterRow.case_id == CaseRow.id)
            .outerjoin(ChildRow, ChildRow.case_id == CaseRow.id)
            .where(CaseRow.id > after)
            .order_by(CaseRow.id)
            .limit(batch)
        ).all()
        if not heads:
            return
        first, last = heads[0][0], heads[-1][0]
        records = load_batch(connection, first, last, (h[0] for h in heads))
        for case_id, la_child_id, worker, team, *child in heads:
            yield LookedAfterChild(_child(la_child_id, *child), records[case_id]), worker, team
        after = last
        if len(heads) < batch:
            return


def _load_items(
    connection: Connection, in_batch: Any, episodes: dict[int, tuple[int, Episode]]
) -> None:
    def rows(model: Any, *columns: Any) -> Any:
        return connection.execute(
            select(model.episode_id, model.seq, *columns)
            .join(EpisodeRow, EpisodeRow.id == model.episode_id)
            .where(in_batch)
            .order_by(model.episode_id, model.seq)
        ).all()

    for episode_id, seq, start, authorised, factors in rows(
        AssessmentRow, AssessmentRow.start_date, AssessmentRow.authorised_date,
        AssessmentRow.factors,
    ):
        case_id, episode = episodes[episode_id]
        if seq != len(episode.assessments):
            raise _inconsistent(case_id, "assessment", seq, len(episode.assessments))
        episode.assessments.append(Assessment(
            start=start, authorised=authorised, factors=factors.split(",") if factors else []))

    for episode_id, seq, start, icpc_date, not_required in rows(
        Section47Row, Section47Row.start_date, Section47Row.icpc_date,
        Section47Row.icpc_not_required,
    ):
        case_id, episode = episodes[episode_id]
        if seq != len(episode.s47s):
            raise _inconsistent(case_id, "section 47 enquiry", seq, len(episode.s47s))
        episode.s47s.append(Section47(start=start, icpc_date=icpc_date,
                                      icpc_not_required=bool(not_required)))

    plans: dict[int, tuple[int, CPPlan]] = {}
    for episode_id, seq, plan_id, start, end, initial, latest in rows(
        CPPlanRow, CPPlanRow.id, CPPlanRow.start_date, CPPlanRow.end_date,
        CPPlanRow.initial_category, CPPlanRow.latest_category,
    ):
        case_id, episode = episodes[episode_id]
        if seq != len(episode.cp_plans):
            raise _inconsistent(case_id, "child protection plan", seq, len(episode.cp_plans))
        plan = CPPlan(start=start, end=end, initial_category=initial, latest_category=latest)
        episode.cp_plans.append(plan)
        plans[plan_id] = (case_id, plan)

    if plans:
        for plan_id, seq, review_date in connection.execute(
            select(CPReviewRow.cp_plan_id, CPReviewRow.seq, CPReviewRow.review_date)
            .join(CPPlanRow, CPPlanRow.id == CPReviewRow.cp_plan_id)
            .join(EpisodeRow, EpisodeRow.id == CPPlanRow.episode_id)
            .where(in_batch)
            .order_by(CPReviewRow.cp_plan_id, CPReviewRow.seq)
        ).all():
            case_id, plan = plans[plan_id]
            if seq != len(plan.reviews):
                raise _inconsistent(case_id, "review", seq, len(plan.reviews))
            plan.reviews.append(review_date)

    for episode_id, seq, start, end in rows(CINPlanRow, CINPlanRow.start_date,
                                            CINPlanRow.end_date):
        case_id, episode = episodes[episode_id]
        if seq != len(episode.cin_plans):
            raise _inconsistent(case_id, "CIN plan", seq, len(episode.cin_plans))
        episode.cin_plans.append(CINPlan(start=start, end=end))


class _Snapshot:
    def __init__(self, session: Session) -> None:
        self.session = session

    def count(self) -> int:
        return count_cases(self.session)

    def cases(self) -> Iterator[CaseData]:
        return iter_cases(self.session)

    def count_looked_after(self) -> int:
        return count_looked_after(self.session)

    def looked_after(self) -> Iterator[LookedAfterChild]:
        return iter_looked_after(self.session)

    def care_cases(self) -> Iterator[CareCase]:
        return iter_care_cases(self.session)


class SqlCaseSource:
    """Every case's record on one consistent, read-only snapshot of the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def snapshot(self) -> Iterator[_Snapshot]:
        engine = self.engine
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin() as transaction:
                if engine.dialect.name == "sqlite":
                    # pysqlite opens a transaction only before a write: open the read one here
                    connection.exec_driver_sql("BEGIN")
                with Session(bind=connection) as session:
                    yield _Snapshot(session)
                transaction.rollback()  # nothing was written
