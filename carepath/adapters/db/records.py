"""The canonical case record <-> its rows.

:func:`load_record` reads a case's record in a fixed, small number of queries (one per table,
ordered by position), whatever its size, and without reading every review of a long child
protection plan: ``cp_plans`` keeps each plan's ``review_count`` and ``last_review``, and a plan
with more than :data:`EAGER_REVIEWS` reviews gets a :class:`~carepath.engine.record.model.ReviewDates`
that reads its review rows only if something asks for every date (the returns, the case file).

:func:`save_record` compares the record as it was loaded with the record as it is now and writes
only the rows that differ: rows are identified by position (the episode's ``seq``, then the item's
``seq`` within its episode or plan), so adding one review to a plan with a thousand reviews writes
two rows (the review, and the plan's review summary).

Both take a :class:`~sqlalchemy.orm.Session` or a Core :class:`~sqlalchemy.engine.Connection` and
run SQLAlchemy Core statements built once, at import (no ORM unit of work): they are on the hot
path of every task completion.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

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
from carepath.engine.record.looked_after import LookedAfter
from carepath.engine.record.model import ReviewDates, StoredReviews

from .fastexec import FastStatement
from .lac_records import load_looked_after, save_looked_after
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

T = TypeVar("T")
Values = dict[str, Any]
Db = Session | Connection

# Plans with at most this many reviews are read whole (one query for all of them); longer ones
# read their reviews only when every date is needed.
EAGER_REVIEWS = 32


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


def _cp_plan_values(item: CPPlan) -> Values:
    """The plan's own columns and the summary of its reviews (the reviews are rows of their own;
    ``len`` and ``[-1]`` do not read stored reviews)."""
    count = len(item.reviews)
    return {
        "start_date": item.start,
        "end_date": item.end,
        "initial_category": item.initial_category,
        "latest_category": item.latest_category,
        "review_count": count,
        "last_review": item.reviews[-1] if count else None,
    }


def _cin_plan_values(item: CINPlan) -> Values:
    return {"start_date": item.start, "end_date": item.end}


def _review_values(review: date) -> Values:
    return {"review_date": review}


def _connection(db: Db) -> Connection:
    """The Core connection of ``db`` (a Session's, after flushing its pending ORM changes)."""
    if isinstance(db, Session):
        db.flush()
        return db.connection()
    return db


# --- statements (built once) ---------------------------------------------------------------------

_cases = cast(Table, CaseRow.__table__)
_children = cast(Table, ChildRow.__table__)
_episodes = cast(Table, EpisodeRow.__table__)
_assessments = cast(Table, AssessmentRow.__table__)
_s47s = cast(Table, Section47Row.__table__)
_plans = cast(Table, CPPlanRow.__table__)
_reviews = cast(Table, CPReviewRow.__table__)
_cin_plans = cast(Table, CINPlanRow.__table__)
_looked_after = cast(Table, LookedAfterRow.__table__)

_CASE: Any = bindparam("b_case")

_LOAD_CHILD = (
    select(
        _cases.c.la_child_id,
        _children.c.case_id,
        _children.c.upn,
        _children.c.upn_unknown,
        _children.c.birth_date,
        _children.c.expected_birth_date,
        _children.c.sex,
        _children.c.ethnicity,
        _children.c.disabilities,
        _looked_after.c.case_id.label("lac_case"),  # has a looked-after record
    )
    .select_from(_cases.outerjoin(_children, _children.c.case_id == _cases.c.id)
                 .outerjoin(_looked_after, _looked_after.c.case_id == _cases.c.id))
    .where(_cases.c.id == _CASE)
)
_LOAD_EPISODES = (
    select(
        _episodes.c.id,
        _episodes.c.seq,
        _episodes.c.referral_date,
        _episodes.c.referral_source,
        _episodes.c.referral_nfa,
        _episodes.c.primary_need,
        _episodes.c.closure_date,
        _episodes.c.closure_reason,
        _episodes.c.emergency_protection,
    )
    .where(_episodes.c.case_id == _CASE)
    .order_by(_episodes.c.seq)
)


def _items_query(table: Table, *columns: str) -> Any:
    return (
        select(table.c.episode_id, table.c.seq, *(table.c[name] for name in columns))
        .join(_episodes, _episodes.c.id == table.c.episode_id)
        .where(_episodes.c.case_id == _CASE)
        .order_by(_episodes.c.seq, table.c.seq)
    )


_LOAD_ASSESSMENTS = _items_query(_assessments, "start_date", "authorised_date", "factors")
_LOAD_S47S = _items_query(_s47s, "start_date", "icpc_date", "icpc_not_required")
_LOAD_PLANS = _items_query(
    _plans, "id", "start_date", "end_date", "initial_category", "latest_category",
    "review_count", "last_review",
)
_LOAD_CIN_PLANS = _items_query(_cin_plans, "start_date", "end_date")
_LOAD_SHORT_REVIEWS = (
    select(_reviews.c.cp_plan_id, _reviews.c.seq, _reviews.c.review_date)
    .join(_plans, _plans.c.id == _reviews.c.cp_plan_id)
    .join(_episodes, _episodes.c.id == _plans.c.episode_id)
    .where(_episodes.c.case_id == _CASE, _plans.c.review_count <= EAGER_REVIEWS)
    .order_by(_episodes.c.seq, _plans.c.seq, _reviews.c.seq)
)
_LOAD_PLAN_REVIEWS = (
    select(_reviews.c.seq, _reviews.c.review_date)
    .where(_reviews.c.cp_plan_id == bindparam("b_plan"), _reviews.c.seq < bindparam("b_count"))
    .order_by(_reviews.c.seq)
)


# --- load ----------------------------------------------------------------------------------------


@dataclass
class LoadedRows:
    """The rows :func:`load_record` read, as read: the audit check compares them with the
    events without reading them again (``record_audit.load_stored``). ``items``: table name
    -> its rows, for each item table read (all four when the case has an episode; none read,
    and none can hold a row of the case, when it has none)."""

    child: Any = None  # the case row with its child row (``case_id`` None: no child row)
    episodes: list[Any] = field(default_factory=list)
    items: dict[str, list[Any]] = field(default_factory=dict)


def load_record(db: Db, case_id: int, rows: LoadedRows | None = None) -> CaseRecord:
    """The case's record: at most 7 queries (case and child, episodes, one per item table, and
    the reviews of short plans), however long its history, and for a child with a looked-after
    record 10 more (:func:`lac_records.load_looked_after`). A plan with more than
    :data:`EAGER_REVIEWS` reviews reads its review rows only when every date is asked for (see
    :class:`ReviewDates`): through ``db`` if it is still in the same transaction on the same
    thread, else through a new connection of the same engine. ``rows`` keeps the rows of the
    child, episodes and item tables as read."""
    conn = _connection(db)
    found = conn.execute(_LOAD_CHILD, {"b_case": case_id}).one_or_none()
    if found is None:
        raise NotFoundError(f"There is no case {case_id}")
    if rows is not None:
        rows.child = found
    child = Child(la_child_id=found.la_child_id)
    if found.case_id is not None:
        child = Child(
            la_child_id=found.la_child_id,
            upn=found.upn,
            upn_unknown=found.upn_unknown,
            birth_date=found.birth_date,
            expected_birth_date=found.expected_birth_date,
            sex=found.sex,
            ethnicity=found.ethnicity,
            disabilities=split_codes(found.disabilities),
        )
    record = CaseRecord(child=child)
    if found.lac_case is not None:
        record.looked_after = load_looked_after(conn, case_id)
    params = {"b_case": case_id}

    episodes: dict[int, Episode] = {}  # by episode row id
    for row in _kept(conn.execute(_LOAD_EPISODES, params), rows, None):
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

    for row in _kept(conn.execute(_LOAD_ASSESSMENTS, params), rows, _assessments):
        assessment = Assessment(
            start=row.start_date, authorised=row.authorised_date, factors=split_codes(row.factors)
        )
        _place(episodes[row.episode_id].assessments, row.seq, assessment, case_id, "assessment")

    for row in _kept(conn.execute(_LOAD_S47S, params), rows, _s47s):
        s47 = Section47(
            start=row.start_date, icpc_date=row.icpc_date, icpc_not_required=row.icpc_not_required
        )
        _place(episodes[row.episode_id].s47s, row.seq, s47, case_id, "section 47 enquiry")

    short: dict[int, tuple[CPPlan, int, date | None]] = {}  # plans whose reviews are read now
    for row in _kept(conn.execute(_LOAD_PLANS, params), rows, _plans):
        count, last = row.review_count, row.last_review
        plan = CPPlan(
            start=row.start_date,
            end=row.end_date,
            initial_category=row.initial_category,
            latest_category=row.latest_category,
        )
        if count == 0:
            plan.reviews = ReviewDates(base=StoredReviews(row.id, 0, None, items=()))
        elif count <= EAGER_REVIEWS:
            short[row.id] = (plan, count, last)
            plan.reviews = []
        else:
            plan.reviews = ReviewDates(
                base=StoredReviews(row.id, count, last, load=_review_loader(conn, row.id, count,
                                                                            case_id))
            )
        _place(episodes[row.episode_id].cp_plans, row.seq, plan, case_id, "child protection plan")

    if short:
        for review in conn.execute(_LOAD_SHORT_REVIEWS, params):
            plan_reviews = short[review.cp_plan_id][0].reviews
            _place(plan_reviews, review.seq, review.review_date, case_id, "review")
        for plan_id, (plan, count, last) in short.items():
            dates = cast(list[date], plan.reviews)
            if len(dates) != count or dates[-1] != last:
                raise RecordError(
                    f"The stored record of case {case_id} is inconsistent: a child protection "
                    f"plan has {len(dates)} reviews, and its summary says {count}"
                )
            plan.reviews = ReviewDates(base=StoredReviews(plan_id, count, last, items=dates))

    for row in _kept(conn.execute(_LOAD_CIN_PLANS, params), rows, _cin_plans):
        cin_plan = CINPlan(start=row.start_date, end=row.end_date)
        _place(episodes[row.episode_id].cin_plans, row.seq, cin_plan, case_id, "CIN plan")

    return record


def _kept(result: Any, rows: LoadedRows | None, table: Table | None) -> Any:
    """The rows of ``result``, kept in ``rows`` (as the episodes, or the rows of ``table``)."""
    if rows is None:
        return result
    found = list(result)
    if table is None:
        rows.episodes = found
    else:
        rows.items[table.name] = found
    return found


def _review_loader(conn: Connection, plan_id: int, count: int, case_id: int
                   ) -> Callable[[], list[date]]:
    """Reads a long plan's reviews on first need. Reviews are only ever appended, so the first
    ``count`` rows are the same in any later snapshot; StoredReviews checks count and last date."""
    engine = conn.engine
    thread = threading.get_ident()

    def read(connection: Connection) -> list[date]:
        dates: list[date] = []
        for row in connection.execute(_LOAD_PLAN_REVIEWS, {"b_plan": plan_id, "b_count": count}):
            _place(dates, row.seq, row.review_date, case_id, "review")
        return dates

    def load() -> list[date]:
        # The loading connection sees this transaction's own writes (a record saved and read
        # back before commit); once it is closed, or from another thread, use a new one.
        if threading.get_ident() == thread and not conn.closed and conn.in_transaction():
            return read(conn)
        with engine.connect() as connection:
            return read(connection)

    return load


def _place(items: Any, seq: int, item: T, case_id: int, what: str) -> None:
    """Append ``item``, which must be the next in order (rows are read ordered by seq)."""
    if seq != len(items):
        raise RecordError(
            f"The stored record of case {case_id} is inconsistent: "
            f"{what} number {seq} follows {len(items)} earlier ones"
        )
    items.append(item)


# --- save ----------------------------------------------------------------------------------------

_EPISODE: Any = bindparam("b_episode")
_SEQ: Any = bindparam("b_seq")
_PLAN: Any = bindparam("b_plan")


@dataclass
class _ItemTable:
    """How one list in an episode maps to a table keyed by (episode_id, seq)."""

    table: Table
    items: Callable[[Episode], Sequence[Any]]
    values: Callable[[Any], Values]

    def __post_init__(self) -> None:
        t = self.table
        self.name = t.name
        self.insert = insert(t)
        self.update_at = update(t).where(t.c.episode_id == _EPISODE, t.c.seq == _SEQ)
        self.delete_from = delete(t).where(t.c.episode_id == _EPISODE, t.c.seq >= _SEQ)


_ASSESSMENTS = _ItemTable(_assessments, lambda e: e.assessments, _assessment_values)
_S47S = _ItemTable(_s47s, lambda e: e.s47s, _s47_values)
_CIN_PLANS = _ItemTable(_cin_plans, lambda e: e.cin_plans, _cin_plan_values)

_UPDATE_LA_CHILD_ID = (
    update(_cases)
    .where(_cases.c.id == _CASE, _cases.c.la_child_id != bindparam("b_la"))
    .values(la_child_id=bindparam("b_la"))
)
_UPDATE_CHILD = update(_children).where(_children.c.case_id == _CASE)
_INSERT_CHILD = insert(_children)
_EPISODE_IDS = select(_episodes.c.seq, _episodes.c.id).where(_episodes.c.case_id == _CASE)
_INSERT_EPISODE = insert(_episodes).returning(_episodes.c.id)
_UPDATE_EPISODE = update(_episodes).where(_episodes.c.case_id == _CASE, _episodes.c.seq == _SEQ)
_REMOVED_EPISODES = select(_episodes.c.id).where(_episodes.c.case_id == _CASE,
                                                 _episodes.c.seq >= _SEQ)
_DELETE_REMOVED_EPISODES_REVIEWS = delete(_reviews).where(_reviews.c.cp_plan_id.in_(
    select(_plans.c.id).where(_plans.c.episode_id.in_(_REMOVED_EPISODES))))
_DELETE_REMOVED_EPISODES_ITEMS = [
    delete(t).where(t.c.episode_id.in_(_REMOVED_EPISODES))
    for t in (_assessments, _s47s, _plans, _cin_plans)
]
_DELETE_EPISODES = delete(_episodes).where(_episodes.c.case_id == _CASE, _episodes.c.seq >= _SEQ)
_INSERT_PLAN = insert(_plans).returning(_plans.c.id)
_PLAN_ID = select(_plans.c.id).where(_plans.c.episode_id == _EPISODE, _plans.c.seq == _SEQ)
_UPDATE_PLAN = update(_plans).where(_plans.c.id == _PLAN)
_DELETE_PLANS_REVIEWS = delete(_reviews).where(_reviews.c.cp_plan_id.in_(
    select(_plans.c.id).where(_plans.c.episode_id == _EPISODE, _plans.c.seq >= _SEQ)))
_DELETE_PLANS = delete(_plans).where(_plans.c.episode_id == _EPISODE, _plans.c.seq >= _SEQ)
_INSERT_REVIEWS = insert(_reviews)
_UPDATE_REVIEW = update(_reviews).where(_reviews.c.cp_plan_id == _PLAN, _reviews.c.seq == _SEQ)
_DELETE_REVIEWS = delete(_reviews).where(_reviews.c.cp_plan_id == _PLAN, _reviews.c.seq >= _SEQ)


_FAST: dict[int, FastStatement] = {}  # by id() of the module-level statements above


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _known_equal(before: Sequence[date], after: Sequence[date]) -> int:
    """How many leading reviews are known equal without reading them or comparing them one by
    one (``after`` a copy of ``before`` with dates appended: all of ``before``)."""
    if isinstance(before, ReviewDates) and isinstance(after, ReviewDates):
        return before.known_prefix(after)
    return 0


class _Writer:
    def __init__(self, conn: Connection, case_id: int, session: Session | None) -> None:
        self.conn = conn
        self.session = session
        self.case_id = case_id
        self.rows = 0
        self._episode_ids: dict[int, int] | None = None

    # -- helpers (module-level statements, run through FastStatement) --

    def run(self, statement: Any, params: Values) -> tuple[int, list[tuple[Any, ...]]]:
        fast = _FAST.get(id(statement))
        if fast is None:
            fast = _FAST.setdefault(id(statement), FastStatement(statement))
        return fast.run(self.conn, params)

    def episode_id(self, seq: int) -> int:
        if self._episode_ids is None:
            self._episode_ids = {
                row[0]: row[1] for row in self.run(_EPISODE_IDS, {"b_case": self.case_id})[1]
            }
        return self._episode_ids[seq]

    def insert_returning_id(self, statement: Any, values: Values) -> int:
        self.rows += 1
        return int(self.run(statement, values)[1][0][0])

    def insert_many(self, statement: Any, rows: list[Values]) -> None:
        if len(rows) == 1:
            self.run(statement, rows[0])
        elif rows:
            self.conn.execute(statement, rows)
        self.rows += len(rows)

    def update_one(self, statement: Any, params: Values, table: str) -> None:
        count = self.run(statement, params)[0]
        if count != 1:
            raise RecordError(
                f"The stored record of case {self.case_id} does not match the record it was "
                f"loaded as ({table}: {count} rows matched, expected 1)"
            )
        self.rows += 1

    def delete(self, statement: Any, params: Values) -> None:
        self.rows += self.run(statement, params)[0]

    # -- the record --

    def child(self, before: Child | None, after: Child) -> None:
        if before is None or before.la_child_id != after.la_child_id:
            params = {"b_case": self.case_id, "b_la": after.la_child_id}
            if self.session is not None:  # keep a CaseRow in the session up to date
                result = self.session.execute(
                    _UPDATE_LA_CHILD_ID.execution_options(synchronize_session="evaluate"), params
                )
                self.rows += _rowcount(result)
            else:
                self.rows += self.run(_UPDATE_LA_CHILD_ID, params)[0]
        values = _child_values(after)
        if before is not None and _child_values(before) == values:
            return
        if before is not None and \
                self.run(_UPDATE_CHILD, {"b_case": self.case_id, **values})[0] == 1:
            self.rows += 1
            return
        # A new record, or one loaded before its child row was ever written.
        self.run(_INSERT_CHILD, {"case_id": self.case_id, **values})
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
                self.update_one(
                    _UPDATE_EPISODE, {"b_case": self.case_id, "b_seq": seq, **values}, "episodes"
                )
            for table in (_ASSESSMENTS, _S47S, _CIN_PLANS):
                if table.items(old) != table.items(episode):
                    self.item_list(
                        table, self.episode_id(seq), table.items(old), table.items(episode)
                    )
            if old.cp_plans != episode.cp_plans:
                self.cp_plans(seq, None, old.cp_plans, episode.cp_plans)
        if len(before) > len(after):
            self.delete_episodes_from(len(after))

    def new_episode(self, seq: int, episode: Episode) -> None:
        episode_id = self.insert_returning_id(
            _INSERT_EPISODE, {"case_id": self.case_id, "seq": seq, **_episode_values(episode)}
        )
        if self._episode_ids is not None:
            self._episode_ids[seq] = episode_id
        for table in (_ASSESSMENTS, _S47S, _CIN_PLANS):
            self.item_list(table, episode_id, [], table.items(episode))
        self.cp_plans(seq, episode_id, [], episode.cp_plans)

    def delete_episodes_from(self, first_seq: int) -> None:
        params = {"b_case": self.case_id, "b_seq": first_seq}
        self.delete(_DELETE_REMOVED_EPISODES_REVIEWS, params)
        for statement in _DELETE_REMOVED_EPISODES_ITEMS:
            self.delete(statement, params)
        self.delete(_DELETE_EPISODES, params)

    def item_list(
        self, table: _ItemTable, episode_id: int, before: Sequence[Any], after: Sequence[Any]
    ) -> None:
        for seq in range(min(len(before), len(after))):
            if before[seq] != after[seq]:
                self.update_one(
                    table.update_at,
                    {"b_episode": episode_id, "b_seq": seq, **table.values(after[seq])},
                    table.name,
                )
        self.insert_many(
            table.insert,
            [
                {"episode_id": episode_id, "seq": seq, **table.values(after[seq])}
                for seq in range(len(before), len(after))
            ],
        )
        if len(before) > len(after):
            self.delete(table.delete_from, {"b_episode": episode_id, "b_seq": len(after)})

    def plan_id(self, episode_seq: int, seq: int, old: CPPlan) -> int:
        """The row id of the plan at (episode, seq), which ``old`` was read from."""
        stored = old.reviews.stored if isinstance(old.reviews, ReviewDates) else None
        if stored is not None and stored.plan_id is not None:
            return stored.plan_id
        rows = self.run(_PLAN_ID, {"b_episode": self.episode_id(episode_seq), "b_seq": seq})[1]
        found = rows[0][0] if rows else None
        if found is None:
            raise RecordError(
                f"The stored record of case {self.case_id} does not match the record it was "
                "loaded as (cp_plans: 0 rows matched, expected 1)"
            )
        return int(found)

    def cp_plans(self, episode_seq: int, episode_id: int | None, before: Sequence[CPPlan],
                 after: Sequence[CPPlan]) -> None:
        for seq, plan in enumerate(after):
            if seq >= len(before):
                if episode_id is None:
                    episode_id = self.episode_id(episode_seq)
                new_id = self.insert_returning_id(
                    _INSERT_PLAN, {"episode_id": episode_id, "seq": seq, **_cp_plan_values(plan)}
                )
                self.reviews(new_id, [], plan.reviews)
                continue
            old = before[seq]
            if old == plan:
                continue
            values = _cp_plan_values(plan)
            plan_id: int | None = None
            if _cp_plan_values(old) != values:
                plan_id = self.plan_id(episode_seq, seq, old)
                self.update_one(_UPDATE_PLAN, {"b_plan": plan_id, **values}, "cp_plans")
            if old.reviews != plan.reviews:
                if plan_id is None:
                    plan_id = self.plan_id(episode_seq, seq, old)
                self.reviews(plan_id, old.reviews, plan.reviews)
        if len(before) > len(after):
            if episode_id is None:
                episode_id = self.episode_id(episode_seq)
            params = {"b_episode": episode_id, "b_seq": len(after)}
            self.delete(_DELETE_PLANS_REVIEWS, params)
            self.delete(_DELETE_PLANS, params)

    def reviews(self, plan_id: int, before: Sequence[date], after: Sequence[date]) -> None:
        known = _known_equal(before, after)
        for seq in range(known, min(len(before), len(after))):
            if before[seq] != after[seq]:
                self.update_one(
                    _UPDATE_REVIEW,
                    {"b_plan": plan_id, "b_seq": seq, **_review_values(after[seq])},
                    "cp_reviews",
                )
        self.insert_many(
            _INSERT_REVIEWS,
            [
                {"cp_plan_id": plan_id, "seq": seq, **_review_values(after[seq])}
                for seq in range(len(before), len(after))
            ],
        )
        if len(before) > len(after):
            self.delete(_DELETE_REVIEWS, {"b_plan": plan_id, "b_seq": len(after)})


def save_record(db: Db, case_id: int, before: CaseRecord | None, after: CaseRecord) -> int:
    """Write the difference between ``before`` (the record as loaded, None for a new case) and
    ``after``; returns the number of rows inserted, updated or deleted (a plan whose reviews
    changed counts its own row too: it keeps their number and the last one).

    ``before`` must be the record exactly as :func:`load_record` returned it, and ``after`` a
    changed copy of it; passing the same object for both means "unchanged" and writes nothing.
    Rows are matched by position, so an item removed from the middle of a list shifts the ones
    after it (each then counts as updated).
    """
    if before is after:
        return 0  # the same object: nothing changed (changes made in place cannot be seen)
    session = db if isinstance(db, Session) else None
    writer = _Writer(_connection(db), case_id, session)
    writer.child(before.child if before is not None else None, after.child)
    writer.episodes(before.episodes if before is not None else [], after.episodes)
    writer.rows += save_looked_after(
        writer.conn, case_id, before.looked_after if before is not None else LookedAfter(),
        after.looked_after)
    return writer.rows
