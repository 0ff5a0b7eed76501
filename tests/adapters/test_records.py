from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.orm import Session

from carepath.adapters.db.database import session_scope
from carepath.adapters.db.models import (
    AssessmentRow,
    CaseRow,
    ChildRow,
    CINPlanRow,
    CPPlanRow,
    CPReviewRow,
    EpisodeRow,
    Section47Row,
)
from carepath.adapters.db.records import load_record, save_record
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

D = date


def complex_record() -> CaseRecord:
    return CaseRecord(
        child=Child(
            la_child_id="LA-000123",
            upn="A123456789012",
            birth_date=D(2015, 3, 4),
            sex="F",
            ethnicity="WBRI",
            disabilities=["MOB", "HAND"],
        ),
        episodes=[
            Episode(
                referral_date=D(2023, 1, 10),
                referral_source="1A",
                primary_need="N1",
                assessments=[
                    Assessment(
                        start=D(2023, 1, 11), authorised=D(2023, 2, 1), factors=["2A", "3B"]
                    ),
                    Assessment(start=D(2023, 6, 1)),
                ],
                s47s=[Section47(start=D(2023, 1, 12), icpc_date=D(2023, 1, 30))],
                cp_plans=[
                    CPPlan(
                        start=D(2023, 1, 30),
                        initial_category="NEG",
                        latest_category="EMO",
                        reviews=[D(2023, 4, 20), D(2023, 10, 19)],
                        end=D(2023, 12, 1),
                    )
                ],
                cin_plans=[CINPlan(start=D(2023, 12, 1), end=D(2024, 3, 1))],
                closure_date=D(2024, 3, 1),
                closure_reason="RC1",
                emergency_protection=[D(2023, 1, 11), D(2023, 6, 2)],
            ),
            Episode(referral_date=D(2024, 9, 1), referral_nfa=True, closure_date=D(2024, 9, 1)),
            Episode(
                referral_date=D(2025, 1, 5),
                s47s=[
                    Section47(start=D(2025, 1, 6), icpc_not_required=True),
                    Section47(start=D(2025, 2, 6)),
                ],
                cp_plans=[CPPlan(start=D(2025, 2, 20), initial_category="PHY")],
            ),
        ],
    )


def _new_case(session: Session, la_child_id: str = "LA-000123") -> int:
    case = CaseRow(la_child_id=la_child_id, pack_name="ics2010", pack_version="1")
    session.add(case)
    session.flush()
    return case.id


def _saved(engine: Engine, record: CaseRecord) -> int:
    with session_scope(engine) as session:
        case_id = _new_case(session, record.child.la_child_id)
        save_record(session, case_id, None, record)
        return case_id


def _count_rows(session: Session) -> int:
    total = 0
    for model in (
        ChildRow,
        EpisodeRow,
        AssessmentRow,
        Section47Row,
        CPPlanRow,
        CPReviewRow,
        CINPlanRow,
    ):
        total += session.scalar(select(func.count()).select_from(model)) or 0
    return total


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _changed(record: CaseRecord, change: Any) -> tuple[CaseRecord, CaseRecord]:
    after = copy.deepcopy(record)
    change(after)
    return record, after


# --- round trip ----------------------------------------------------------------------------------


def test_complex_record_round_trips(db: Engine) -> None:
    record = complex_record()
    with session_scope(db) as session:
        case_id = _new_case(session)
        written = save_record(session, case_id, None, record)
    # child + 3 episodes + 2 assessments + 3 s47s + 2 plans + 2 reviews + 1 CIN plan
    assert written == 14
    with session_scope(db) as session:
        assert load_record(session, case_id) == record
        assert _count_rows(session) == 14


def test_case_without_record_rows_loads_as_a_bare_child(db: Engine) -> None:
    with session_scope(db) as session:
        case_id = _new_case(session, "LA-9")
        assert load_record(session, case_id) == CaseRecord(child=Child(la_child_id="LA-9"))


def test_loading_a_missing_case_is_not_found(db: Engine) -> None:
    with pytest.raises(NotFoundError, match="no case 999"), session_scope(db) as session:
        load_record(session, 999)


def test_only_the_loaded_case_is_read(db: Engine) -> None:
    first = _saved(db, complex_record())
    other = complex_record()
    other.child.la_child_id = "LA-OTHER"
    other.episodes[0].cp_plans[0].reviews.append(D(2023, 11, 1))
    second = _saved(db, other)
    with session_scope(db) as session:
        assert load_record(session, first) == complex_record()
        assert load_record(session, second) == other


# --- writing only what changed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "rows"),
    [
        pytest.param(lambda r: None, 0, id="nothing"),
        pytest.param(lambda r: setattr(r.child, "sex", "M"), 1, id="child field"),
        pytest.param(lambda r: r.child.disabilities.append("VIS"), 1, id="child codes"),
        pytest.param(lambda r: setattr(r.child, "la_child_id", "LA-NEW"), 1, id="la child id"),
        pytest.param(lambda r: setattr(r.episodes[2], "primary_need", "N2"), 1, id="episode field"),
        pytest.param(
            lambda r: setattr(r.episodes[0].assessments[1], "authorised", D(2023, 7, 1)),
            1,
            id="assessment field",
        ),
        pytest.param(  # the review, and the plan's review count and last review
            lambda r: r.episodes[2].cp_plans[0].reviews.append(D(2025, 5, 1)), 2, id="new review"
        ),
        pytest.param(
            lambda r: r.episodes[2].cin_plans.append(CINPlan(start=D(2025, 6, 1))),
            1,
            id="new cin plan",
        ),
        pytest.param(
            lambda r: r.episodes[2].cp_plans.append(
                CPPlan(start=D(2025, 9, 1), reviews=[D(2025, 10, 1), D(2025, 12, 1)])
            ),
            3,
            id="new plan with reviews",
        ),
        pytest.param(
            lambda r: r.episodes.append(
                Episode(
                    referral_date=D(2025, 8, 1),
                    assessments=[Assessment(start=D(2025, 8, 2))],
                )
            ),
            2,
            id="new episode",
        ),
        pytest.param(lambda r: r.episodes[2].s47s.pop(), 1, id="removed s47"),
        pytest.param(lambda r: r.episodes[0].s47s.pop(0), 1, id="removed first s47"),
        pytest.param(lambda r: r.episodes[2].s47s.pop(0), 2, id="removed s47 shifts the next"),
        pytest.param(lambda r: r.episodes[0].cp_plans.pop(), 3, id="removed plan and reviews"),
        pytest.param(lambda r: r.episodes[0].cp_plans[0].reviews.pop(), 2, id="removed review"),
        pytest.param(lambda r: r.episodes.pop(), 4, id="removed episode and its items"),
        pytest.param(lambda r: r.episodes.pop(0), 16, id="removed first episode shifts the rest"),
    ],
)
def test_save_writes_only_changed_rows(db: Engine, change: Any, rows: int) -> None:
    before, after = _changed(complex_record(), change)
    case_id = _saved(db, before)
    with session_scope(db) as session:
        assert save_record(session, case_id, load_record(session, case_id), after) == rows
    with session_scope(db) as session:
        assert load_record(session, case_id) == after


def test_shifted_episode_rows_reload_correctly(db: Engine) -> None:
    record = complex_record()
    case_id = _saved(db, record)
    after = copy.deepcopy(record)
    after.episodes = [after.episodes[2], after.episodes[0]]
    with session_scope(db) as session:
        save_record(session, case_id, load_record(session, case_id), after)
    with session_scope(db) as session:
        assert load_record(session, case_id) == after
        assert _count_rows(session) == 1 + 2 + 2 + 3 + 2 + 2 + 1


def test_cost_does_not_grow_with_history(db: Engine) -> None:
    """A plan with 1,000 reviews: adding one writes the review and the plan's summary; loading
    is a handful of queries."""
    record = complex_record()
    record.episodes[2].cp_plans[0].reviews = [
        D(2025, 3, 1) + timedelta(days=i) for i in range(1000)
    ]
    case_id = _saved(db, record)

    with session_scope(db) as session, counting_statements(db) as statements:
        before = load_record(session, case_id)
    assert len(before.episodes[2].cp_plans[0].reviews) == 1000
    assert len(statements) <= 8, statements

    after = copy.deepcopy(before)
    after.episodes[2].cp_plans[0].reviews.append(D(2028, 1, 1))
    with session_scope(db) as session, counting_statements(db) as statements:
        assert save_record(session, case_id, before, after) == 2
    writes = sorted(s.lstrip().upper()[:6] for s in statements
                    if not s.lstrip().upper().startswith(("SELECT", "BEGIN")))
    assert writes == ["INSERT", "UPDATE"], statements
    assert len(statements) <= 3, statements

    with session_scope(db) as session:
        assert load_record(session, case_id) == after


def test_child_row_is_created_when_first_needed(db: Engine) -> None:
    with session_scope(db) as session:
        case_id = _new_case(session, "LA-5")
        before = load_record(session, case_id)
        after = copy.deepcopy(before)
        after.child.birth_date = D(2020, 1, 1)
        assert save_record(session, case_id, before, after) == 1
    with session_scope(db) as session:
        assert load_record(session, case_id).child.birth_date == D(2020, 1, 1)


def test_same_object_means_unchanged(db: Engine) -> None:
    record = complex_record()
    case_id = _saved(db, record)
    with session_scope(db) as session:
        loaded = load_record(session, case_id)
        assert save_record(session, case_id, loaded, loaded) == 0


def test_codes_with_commas_are_refused(db: Engine) -> None:
    record = complex_record()
    record.child.disabilities = ["A,B"]
    with pytest.raises(RecordError, match="comma"), session_scope(db) as session:
        save_record(session, _new_case(session), None, record)


def test_stale_before_is_refused_not_silently_applied(db: Engine) -> None:
    record = complex_record()
    case_id = _saved(db, record)
    with session_scope(db) as session:  # somebody removes the second assessment behind our back
        session.execute(update(AssessmentRow).where(AssessmentRow.seq == 1).values(seq=7))
    after = copy.deepcopy(record)
    after.episodes[0].assessments[1].authorised = D(2023, 7, 1)
    with pytest.raises(RecordError, match="does not match"), session_scope(db) as session:
        save_record(session, case_id, record, after)


def test_corrupt_order_is_reported_on_load(db: Engine) -> None:
    record = complex_record()
    case_id = _saved(db, record)
    with session_scope(db) as session:
        session.execute(update(CPReviewRow).where(CPReviewRow.seq == 0).values(seq=5))
    with pytest.raises(RecordError, match="inconsistent"), session_scope(db) as session:
        load_record(session, case_id)


# --- long plans: reviews read only when every date is needed -------------------------------------


def _long_plan_case(db: Engine, reviews: int) -> tuple[int, list[date]]:
    record = complex_record()
    dates = [D(2025, 3, 1) + timedelta(days=i) for i in range(reviews)]
    record.episodes[2].cp_plans[0].reviews = list(dates)
    return _saved(db, record), dates


@contextmanager
def counting_review_rows(engine: Engine) -> Iterator[list[int]]:
    """How many cp_reviews rows each statement that reads that table returns."""
    rows: list[int] = []

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
              executemany: bool) -> None:
        if "FROM cp_reviews" in statement and statement.lstrip().upper().startswith("SELECT"):
            rows.append(-1)  # counted once fetched, below

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield rows
    finally:
        event.remove(engine, "after_cursor_execute", after)


def test_a_plan_with_5000_reviews_loads_without_reading_them(db: Engine) -> None:
    case_id, dates = _long_plan_case(db, 5000)
    with session_scope(db) as session, counting_review_rows(db) as reads, \
            counting_statements(db) as statements:
        record = load_record(session, case_id)
        plan = record.episodes[2].cp_plans[0]
        # what a completion reads of it: how many, the last one, and the context for due dates
        assert len(plan.reviews) == 5000 and plan.reviews[-1] == dates[-1]
        from carepath.engine.record.context import record_context

        assert record_context(record)["cp_plan"]["last_review"] == dates[-1]
        from carepath.engine.record.model import clone_record

        copy_ = clone_record(record)
        copy_.episodes[2].cp_plans[0].reviews.append(D(2040, 1, 1))
        assert len(copy_.episodes[2].cp_plans[0].reviews) == 5001
        assert copy_ != record and clone_record(record) == record
    # the other, short plan's reviews are read with the record; the long one's are not
    assert len(statements) <= 7, statements
    assert reads == [-1], statements  # one query, for the plans with few reviews
    with session_scope(db) as session:
        short_rows = session.execute(
            select(func.count()).select_from(CPReviewRow)
            .where(CPReviewRow.review_date < D(2025, 1, 1))).scalar_one()
    assert short_rows == 2  # so that query returned at most these two rows


def test_long_plan_reviews_are_read_on_first_need_even_after_the_session(db: Engine) -> None:
    case_id, dates = _long_plan_case(db, 5000)
    with session_scope(db) as session:
        record = load_record(session, case_id)
    plan = record.episodes[2].cp_plans[0]
    with counting_review_rows(db) as reads:
        assert list(plan.reviews) == dates  # a new connection of the same engine
        assert plan.reviews[100] == dates[100]
        assert plan.reviews == dates and record_to_story_reviews(record) == dates
    assert reads == [-1]  # read once, then kept (shared by every copy)


def record_to_story_reviews(record: CaseRecord) -> list[date]:
    from carepath.engine.record.case_record import record_to_story

    return list(record_to_story(record)["episodes"][2]["cp_plans"][0]["reviews"])


def test_long_plan_saves_only_what_was_appended_and_reloads_equal(db: Engine) -> None:
    case_id, dates = _long_plan_case(db, 1000)
    with session_scope(db) as session:
        before = load_record(session, case_id)
    from carepath.engine.record.model import clone_record

    after = clone_record(before)
    after.episodes[2].cp_plans[0].reviews.append(D(2030, 1, 1))
    with session_scope(db) as session, counting_review_rows(db) as reads:
        assert save_record(session, case_id, before, after) == 2
    assert reads == []  # nothing stored was read to work out the difference
    with session_scope(db) as session:
        again = load_record(session, case_id)
        plan = session.execute(select(CPPlanRow.review_count, CPPlanRow.last_review)
                               .where(CPPlanRow.review_count > 2)).one()
        assert tuple(plan) == (1001, D(2030, 1, 1))
        assert again == after
        assert list(again.episodes[2].cp_plans[0].reviews) == [*dates, D(2030, 1, 1)]


def test_stored_reviews_that_no_longer_match_the_summary_are_refused(db: Engine) -> None:
    case_id, _ = _long_plan_case(db, 100)
    with session_scope(db) as session:
        record = load_record(session, case_id)
    with session_scope(db) as session:  # a row lost behind the record's back
        session.execute(CPReviewRow.__table__.delete().where(CPReviewRow.seq == 50))
    with pytest.raises(RecordError, match="inconsistent"):
        list(record.episodes[2].cp_plans[0].reviews)


def test_migration_fills_in_the_review_summary(db_url: str) -> None:
    from alembic import command

    from carepath.adapters.db.database import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0003")
        # raw SQL: the model has columns later migrations add
        connection.exec_driver_sql(
            "INSERT INTO cases (id, la_child_id, pack_name, pack_version, version, event_seq, "
            "head_hash, created_at) VALUES (1, 'LA-1', 'wt2023', '1', 0, 0, '', "
            "'2025-01-01 00:00:00+00:00')")
        connection.execute(EpisodeRow.__table__.insert().values(
            id=1, case_id=1, seq=0, referral_date=D(2025, 1, 1), referral_nfa=False))
        for plan_id, seq in ((1, 0), (2, 1)):
            connection.execute(select(1).where(False))  # (keeps statements apart in logs)
            connection.exec_driver_sql(
                "INSERT INTO cp_plans (id, episode_id, seq, start_date) VALUES "
                f"({plan_id}, 1, {seq}, '2025-01-0{plan_id}')")
        for seq in range(3):
            connection.exec_driver_sql(
                "INSERT INTO cp_reviews (cp_plan_id, seq, review_date) VALUES "
                f"(1, {seq}, '2025-0{seq + 2}-01')")
    upgrade(engine)
    with session_scope(engine) as session:
        summary = session.execute(select(CPPlanRow.id, CPPlanRow.review_count,
                                         CPPlanRow.last_review).order_by(CPPlanRow.id)).all()
        assert [tuple(r) for r in summary] == [(1, 3, D(2025, 4, 1)), (2, 0, None)]
        record = load_record(session, 1)
    assert record.episodes[0].cp_plans[0].reviews == [D(2025, 2, 1), D(2025, 3, 1), D(2025, 4, 1)]


def test_every_migration_runs_on_a_database_with_cases_in_it(db_url: str) -> None:
    """A council upgrading carepath has live cases: the migrations that copy a table on SQLite
    (0002) must keep every row, and the tasks that point at them."""
    from alembic import command

    from carepath.adapters.db.database import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
        connection.exec_driver_sql(
            "INSERT INTO cases (id, la_child_id, pack_name, pack_version, version, event_seq, "
            "head_hash, created_at) VALUES (1, 'LA1', 'wt2023', '1.0.0', 0, 0, '', "
            "'2025-01-01 00:00:00')")
        connection.exec_driver_sql(
            "INSERT INTO process_instances (id, case_id, episode_seq, process_id, pack_name, "
            "pack_version, status, state, created_at) VALUES (1, 1, 0, 'referral', 'wt2023', "
            "'1.0.0', 'running', '{}', '2025-01-01 00:00:00')")
        connection.exec_driver_sql(
            "INSERT INTO tasks (id, case_id, instance_id, spiff_task_id, bpmn_id, title, "
            "status, created_at) VALUES (1, 1, 1, 'x', 'decide', 'Decide', 'ready', "
            "'2025-01-01 00:00:00')")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM tasks").scalar() == 1
        assert connection.exec_driver_sql("SELECT count(*) FROM process_instances").scalar() == 1
