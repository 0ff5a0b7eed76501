"""SQLAlchemy models of the looked-after record (migration 0007).

One table per list of :class:`~carepath.engine.record.looked_after.LookedAfter` (periods of care,
legal statuses, placements, reviews, missing episodes, adoption decisions, outcomes, care-leaver
contacts, social worker allocations), one row per entry keyed by ``(case_id, seq)`` (``seq``: the
entry's 0-based place in its list), and ``looked_after``: one row per case that has any
looked-after data, holding the single items (UASC, mother, previous permanence). A case without
that row has no looked-after record, so reading a child never looked after costs nothing more.
Typed columns, not one generic table: councils' analysts query these directly.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


def _case() -> Mapped[int]:
    return mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)


def _seq() -> Mapped[int]:
    return mapped_column(Integer, primary_key=True)


class LookedAfterRow(Base):
    __tablename__ = "looked_after"

    case_id: Mapped[int] = _case()
    uasc: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    uasc_ceased: Mapped[date | None] = mapped_column(Date)
    mother: Mapped[bool | None] = mapped_column(Boolean)
    first_child_born: Mapped[date | None] = mapped_column(Date)
    prev_perm_option: Mapped[str | None] = mapped_column(String)
    prev_perm_year: Mapped[int | None] = mapped_column(Integer)
    prev_perm_month: Mapped[int | None] = mapped_column(Integer)
    prev_perm_day: Mapped[int | None] = mapped_column(Integer)
    prev_perm_la: Mapped[str | None] = mapped_column(String)


class LacPeriodRow(Base):
    __tablename__ = "lac_periods"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    start_date: Mapped[date] = mapped_column(Date)
    need: Mapped[str | None] = mapped_column(String)
    end_date: Mapped[date | None] = mapped_column(Date)
    reason_ceased: Mapped[str | None] = mapped_column(String)


class LacLegalStatusRow(Base):
    __tablename__ = "lac_legal_statuses"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    code: Mapped[str] = mapped_column(String)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)


class LacPlacementRow(Base):
    __tablename__ = "lac_placements"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    placement_type: Mapped[str] = mapped_column(String)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    provider: Mapped[str | None] = mapped_column(String)
    carer: Mapped[str | None] = mapped_column(String)
    urn: Mapped[str | None] = mapped_column(String)
    postcode: Mapped[str | None] = mapped_column(String)
    home_postcode: Mapped[str | None] = mapped_column(String)
    reason_changed: Mapped[str | None] = mapped_column(String)


class LacReviewRow(Base):
    __tablename__ = "lac_reviews"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    held_date: Mapped[date] = mapped_column(Date)
    participation: Mapped[str | None] = mapped_column(String)


class LacMissingRow(Base):
    __tablename__ = "lac_missing"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    kind: Mapped[str] = mapped_column(String)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    rhi_offered: Mapped[bool | None] = mapped_column(Boolean)
    rhi_accepted: Mapped[bool | None] = mapped_column(Boolean)


class LacAdoptionRow(Base):
    __tablename__ = "lac_adoptions"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    decision_date: Mapped[date] = mapped_column(Date)
    reversed_date: Mapped[date | None] = mapped_column(Date)
    reversed_reason: Mapped[str | None] = mapped_column(String)
    placement_order_date: Mapped[date | None] = mapped_column(Date)
    matched_date: Mapped[date | None] = mapped_column(Date)
    adopters: Mapped[int | None] = mapped_column(Integer)
    adopters_sex: Mapped[str | None] = mapped_column(String)
    adopters_legal_status: Mapped[str | None] = mapped_column(String)
    by_foster_carer: Mapped[bool | None] = mapped_column(Boolean)


class LacOutcomesRow(Base):
    __tablename__ = "lac_outcomes"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    year: Mapped[int] = mapped_column(Integer)
    sdq_score: Mapped[int | None] = mapped_column(Integer)
    sdq_reason: Mapped[str | None] = mapped_column(String)
    convicted: Mapped[bool | None] = mapped_column(Boolean)
    health_check: Mapped[bool | None] = mapped_column(Boolean)
    immunisations: Mapped[bool | None] = mapped_column(Boolean)
    teeth_check: Mapped[bool | None] = mapped_column(Boolean)
    health_assessment: Mapped[bool | None] = mapped_column(Boolean)
    substance_misuse: Mapped[bool | None] = mapped_column(Boolean)
    intervention_received: Mapped[bool | None] = mapped_column(Boolean)
    intervention_offered: Mapped[bool | None] = mapped_column(Boolean)


class LacCareLeaverContactRow(Base):
    __tablename__ = "lac_care_leaver_contacts"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    contact_date: Mapped[date] = mapped_column(Date)
    in_touch: Mapped[str] = mapped_column(String)
    activity: Mapped[str | None] = mapped_column(String)
    accommodation: Mapped[str | None] = mapped_column(String)
    personal_adviser: Mapped[str | None] = mapped_column(String)


class LacSocialWorkerRow(Base):
    __tablename__ = "lac_social_workers"

    case_id: Mapped[int] = _case()
    seq: Mapped[int] = _seq()
    worker: Mapped[str] = mapped_column(String)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String)
