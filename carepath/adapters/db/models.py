"""SQLAlchemy models: the case row, the canonical record's rows, process instances, tasks, events.

The schema is created and changed only by the Alembic migrations in ``migrations/``; these models
must match them exactly (``tests/adapters/test_migrations.py`` checks that on SQLite and
PostgreSQL).

Every timestamp is timezone-aware UTC (:class:`UTCDateTime`); calendar dates are plain ``Date``.
Lists of codes are stored comma-joined (``""`` for none).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only takes aware datetimes and always gives back UTC.

    SQLite has no time zones: values are converted to UTC before they are stored and are read back
    as UTC. PostgreSQL stores ``timestamptz``; values read back are converted to UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"A timestamp must carry a time zone (got {value.isoformat()})")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - defensive
            raise TypeError(f"Expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- the case ------------------------------------------------------------------------------------


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (Index(None, "team"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    la_child_id: Mapped[str] = mapped_column(String, unique=True)
    pack_name: Mapped[str] = mapped_column(String)
    pack_version: Mapped[str] = mapped_column(String)
    worker: Mapped[str | None] = mapped_column(String)
    team: Mapped[str | None] = mapped_column(String)
    # Optimistic lock: every change runs `UPDATE cases SET version = version + 1 WHERE version = ?`.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The audit chain's head: last event seq and its hash.
    event_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    head_hash: Mapped[str] = mapped_column(String(64), default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Visible only to the people named in case_access (and trusted operators).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False,
                                             server_default=text("false"))


# --- the canonical record ------------------------------------------------------------------------


class ChildRow(Base):
    __tablename__ = "children"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    upn: Mapped[str | None] = mapped_column(String)
    upn_unknown: Mapped[str | None] = mapped_column(String)
    birth_date: Mapped[date | None] = mapped_column(Date)
    expected_birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String)
    ethnicity: Mapped[str | None] = mapped_column(String)
    disabilities: Mapped[str] = mapped_column(String, default="", server_default=text("''"))


class EpisodeRow(Base):
    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 0-based position in the case's episodes
    referral_date: Mapped[date] = mapped_column(Date)
    referral_source: Mapped[str | None] = mapped_column(String)
    referral_nfa: Mapped[bool] = mapped_column(Boolean, default=False)
    primary_need: Mapped[str | None] = mapped_column(String)
    closure_date: Mapped[date | None] = mapped_column(Date)
    closure_reason: Mapped[str | None] = mapped_column(String)
    # ISO dates separated by commas, in order (emergency protection orders, police protection)
    emergency_protection: Mapped[str] = mapped_column(String, default="",
                                                      server_default=text("''"))


class AssessmentRow(Base):
    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("episode_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    authorised_date: Mapped[date | None] = mapped_column(Date)
    factors: Mapped[str] = mapped_column(String, default="", server_default=text("''"))


class Section47Row(Base):
    __tablename__ = "section47s"
    __table_args__ = (UniqueConstraint("episode_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    icpc_date: Mapped[date | None] = mapped_column(Date)
    icpc_not_required: Mapped[bool] = mapped_column(Boolean, default=False)


class CPPlanRow(Base):
    __tablename__ = "cp_plans"
    __table_args__ = (UniqueConstraint("episode_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    initial_category: Mapped[str | None] = mapped_column(String)
    latest_category: Mapped[str | None] = mapped_column(String)
    # A summary of the plan's cp_reviews rows, kept by save_record: a record is read without
    # reading every review (see records.load_record and model.ReviewDates).
    review_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_review: Mapped[date | None] = mapped_column(Date)


class CPReviewRow(Base):
    __tablename__ = "cp_reviews"
    __table_args__ = (UniqueConstraint("cp_plan_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cp_plan_id: Mapped[int] = mapped_column(ForeignKey("cp_plans.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    review_date: Mapped[date] = mapped_column(Date)


class CINPlanRow(Base):
    __tablename__ = "cin_plans"
    __table_args__ = (UniqueConstraint("episode_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)


# --- processes, tasks, events --------------------------------------------------------------------

INSTANCE_RUNNING = "running"
INSTANCE_COMPLETED = "completed"
INSTANCE_CANCELLED = "cancelled"

TASK_READY = "ready"
TASK_COMPLETED = "completed"
TASK_CANCELLED = "cancelled"


class ProcessInstanceRow(Base):
    __tablename__ = "process_instances"
    __table_args__ = (
        Index(None, "status", "next_timer_at"),
        Index(None, "case_id", "status"),
        CheckConstraint("status IN ('running', 'completed', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    episode_seq: Mapped[int] = mapped_column(Integer)
    process_id: Mapped[str] = mapped_column(String)
    pack_name: Mapped[str] = mapped_column(String)
    pack_version: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(16), default=INSTANCE_RUNNING)
    state: Mapped[str | None] = mapped_column(Text)  # the serialised Spiff workflow (JSON)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index(None, "status", "assignee"),
        Index(None, "case_id", "status"),
        Index(None, "instance_id", "status"),
        CheckConstraint("status IN ('ready', 'completed', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String)
    title: Mapped[str] = mapped_column(String)
    form: Mapped[str | None] = mapped_column(String)
    role: Mapped[str | None] = mapped_column(String)
    assignee: Mapped[str | None] = mapped_column(String)
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=TASK_READY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String)


class EventRow(Base):
    """One audit event. ``hash = sha256(prev_hash + canonical JSON of the rest)``; see audit.py."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)  # 1-based, per case
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# --- people --------------------------------------------------------------------------------------


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # the login name
    display_name: Mapped[str] = mapped_column(String)
    password_hash: Mapped[str] = mapped_column(String)  # argon2
    roles: Mapped[str] = mapped_column(String, default="", server_default=text("''"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamRow(Base):
    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class UserTeamRow(Base):
    __tablename__ = "user_teams"

    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"),
                                           primary_key=True)
    team_name: Mapped[str] = mapped_column(ForeignKey("teams.name"), primary_key=True)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailureRow(Base):
    """A failed login: the name tried and a hash of where from (never the address itself)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index(None, "name", "at"), Index(None, "source", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseAccessRow(Base):
    """A person named on a case: granted it, or one of those a restricted case is shown to."""

    __tablename__ = "case_access"
    __table_args__ = (Index(None, "user_name"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"),
                                           primary_key=True)


class TaskDraftRow(Base):
    """A task's answers saved as a draft by one person (JSON; personal data: never logged)."""

    __tablename__ = "task_drafts"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"),
                                         primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    answers: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- pack versions and migration runs (migration 0006) -------------------------------------------


class PackPinRow(Base):
    """A pin of the version new cases of a pack use; the latest row of a pack is in force (no
    version: unpinned, the newest is used). Rows are never changed: the history is the audit."""

    __tablename__ = "pack_pins"
    __table_args__ = (Index(None, "pack_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pack_name: Mapped[str] = mapped_column(String)
    pack_version: Mapped[str | None] = mapped_column(String)
    actor: Mapped[str] = mapped_column(String)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class MigrationRunRow(Base):
    """One ``carepath migrate`` run that moved cases (dry runs are not recorded)."""

    __tablename__ = "migration_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(String)  # name@version
    actor: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[str | None] = mapped_column(String)


class MigrationCaseRow(Base):
    """A case a run moved: its state before (JSON: the case's pack, its running instances and
    their ready tasks) and the case version the move left, for ``migrate undo``."""

    __tablename__ = "migration_cases"
    __table_args__ = (Index(None, "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("migration_runs.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    strategy: Mapped[str] = mapped_column(String(16))
    version_after: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[str] = mapped_column(Text)
    undone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


# --- the looked-after record (migration 0007): in its own module, on this Base ------------------

from . import models_lac as models_lac  # noqa: E402  (defines its tables on Base.metadata)
