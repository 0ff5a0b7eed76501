"""Initial schema: cases, the canonical record, process instances, tasks, audit events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _seq() -> sa.Column[int]:
    return sa.Column("seq", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "cases",
        _id(),
        sa.Column("la_child_id", sa.String(), nullable=False),
        sa.Column("pack_name", sa.String(), nullable=False),
        sa.Column("pack_version", sa.String(), nullable=False),
        sa.Column("worker", sa.String(), nullable=True),
        sa.Column("team", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("event_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("head_hash", sa.String(length=64), server_default=sa.text("''"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("la_child_id", name=op.f("uq_cases_la_child_id")),
    )

    # --- the canonical record ---
    op.create_table(
        "children",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("upn", sa.String(), nullable=True),
        sa.Column("upn_unknown", sa.String(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("expected_birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(), nullable=True),
        sa.Column("ethnicity", sa.String(), nullable=True),
        sa.Column("disabilities", sa.String(), server_default=sa.text("''"), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_children_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_children")),
    )
    op.create_table(
        "episodes",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _seq(),
        sa.Column("referral_date", sa.Date(), nullable=False),
        sa.Column("referral_source", sa.String(), nullable=True),
        sa.Column("referral_nfa", sa.Boolean(), nullable=False),
        sa.Column("primary_need", sa.String(), nullable=True),
        sa.Column("closure_date", sa.Date(), nullable=True),
        sa.Column("closure_reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_episodes_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episodes")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_episodes_case_id_seq")),
    )
    op.create_table(
        "assessments",
        _id(),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        _seq(),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("authorised_date", sa.Date(), nullable=True),
        sa.Column("factors", sa.String(), server_default=sa.text("''"), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.id"],
            name=op.f("fk_assessments_episode_id_episodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
        sa.UniqueConstraint("episode_id", "seq", name=op.f("uq_assessments_episode_id_seq")),
    )
    op.create_table(
        "section47s",
        _id(),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        _seq(),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("icpc_date", sa.Date(), nullable=True),
        sa.Column("icpc_not_required", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.id"],
            name=op.f("fk_section47s_episode_id_episodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_section47s")),
        sa.UniqueConstraint("episode_id", "seq", name=op.f("uq_section47s_episode_id_seq")),
    )
    op.create_table(
        "cp_plans",
        _id(),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        _seq(),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("initial_category", sa.String(), nullable=True),
        sa.Column("latest_category", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.id"],
            name=op.f("fk_cp_plans_episode_id_episodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cp_plans")),
        sa.UniqueConstraint("episode_id", "seq", name=op.f("uq_cp_plans_episode_id_seq")),
    )
    op.create_table(
        "cp_reviews",
        _id(),
        sa.Column("cp_plan_id", sa.Integer(), nullable=False),
        _seq(),
        sa.Column("review_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cp_plan_id"],
            ["cp_plans.id"],
            name=op.f("fk_cp_reviews_cp_plan_id_cp_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cp_reviews")),
        sa.UniqueConstraint("cp_plan_id", "seq", name=op.f("uq_cp_reviews_cp_plan_id_seq")),
    )
    op.create_table(
        "cin_plans",
        _id(),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        _seq(),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.id"],
            name=op.f("fk_cin_plans_episode_id_episodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cin_plans")),
        sa.UniqueConstraint("episode_id", "seq", name=op.f("uq_cin_plans_episode_id_seq")),
    )

    # --- processes, tasks, events ---
    op.create_table(
        "process_instances",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("episode_seq", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(), nullable=False),
        sa.Column("pack_name", sa.String(), nullable=False),
        sa.Column("pack_version", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("next_timer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed')", name=op.f("ck_process_instances_status")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_process_instances_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_instances")),
    )
    op.create_index(
        op.f("ix_process_instances_status_next_timer_at"),
        "process_instances",
        ["status", "next_timer_at"],
    )
    op.create_index(
        op.f("ix_process_instances_case_id_status"), "process_instances", ["case_id", "status"]
    )
    op.create_table(
        "tasks",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("spiff_task_id", sa.String(length=36), nullable=False),
        sa.Column("bpmn_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("form", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(), nullable=True),
        sa.CheckConstraint(
            "status IN ('ready', 'completed', 'cancelled')", name=op.f("ck_tasks_status")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_tasks_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_tasks_instance_id_process_instances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_status_assignee"), "tasks", ["status", "assignee"])
    op.create_index(op.f("ix_tasks_case_id_status"), "tasks", ["case_id", "status"])
    op.create_index(op.f("ix_tasks_instance_id_status"), "tasks", ["instance_id", "status"])
    op.create_table(
        "events",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _seq(),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_events_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_events_case_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_index(op.f("ix_tasks_instance_id_status"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_case_id_status"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_status_assignee"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_process_instances_case_id_status"), table_name="process_instances")
    op.drop_index(op.f("ix_process_instances_status_next_timer_at"), table_name="process_instances")
    op.drop_table("process_instances")
    op.drop_table("cin_plans")
    op.drop_table("cp_reviews")
    op.drop_table("cp_plans")
    op.drop_table("section47s")
    op.drop_table("assessments")
    op.drop_table("episodes")
    op.drop_table("children")
    op.drop_table("cases")
