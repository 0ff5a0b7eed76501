"""People: users, teams, API tokens, failed logins; who may see a case; task drafts.

Cases gain ``restricted`` (visible only to the people named in ``case_access``) and an index on
their team, which the team inbox filters on.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (not batch mode: on SQLite that would copy the cases table, which every
    # other table points at).
    op.add_column(
        "cases",
        sa.Column("restricted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_index(op.f("ix_cases_team"), "cases", ["team"])

    op.create_table(
        "users",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("roles", sa.String(), server_default=sa.text("''"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
    )
    op.create_table(
        "teams",
        sa.Column("name", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_teams")),
    )
    op.create_table(
        "user_teams",
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("team_name", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], ondelete="CASCADE",
                                name=op.f("fk_user_teams_user_name_users")),
        sa.ForeignKeyConstraint(["team_name"], ["teams.name"],
                                name=op.f("fk_user_teams_team_name_teams")),
        sa.PrimaryKeyConstraint("user_name", "team_name", name=op.f("pk_user_teams")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], ondelete="CASCADE",
                                name=op.f("fk_api_tokens_user_name_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_name"), "api_tokens", ["user_name"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_name_at"), "login_failures", ["name", "at"])
    op.create_index(op.f("ix_login_failures_source_at"), "login_failures", ["source", "at"])
    op.create_table(
        "case_access",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name=op.f("fk_case_access_case_id_cases")),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], ondelete="CASCADE",
                                name=op.f("fk_case_access_user_name_users")),
        sa.PrimaryKeyConstraint("case_id", "user_name", name=op.f("pk_case_access")),
    )
    op.create_index(op.f("ix_case_access_user_name"), "case_access", ["user_name"])
    op.create_table(
        "task_drafts",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE",
                                name=op.f("fk_task_drafts_task_id_tasks")),
        sa.PrimaryKeyConstraint("task_id", "user_name", name=op.f("pk_task_drafts")),
    )


def downgrade() -> None:
    op.drop_table("task_drafts")
    op.drop_index(op.f("ix_case_access_user_name"), table_name="case_access")
    op.drop_table("case_access")
    op.drop_index(op.f("ix_login_failures_source_at"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_name_at"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_api_tokens_user_name"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("user_teams")
    op.drop_table("teams")
    op.drop_table("users")
    op.drop_index(op.f("ix_cases_team"), table_name="cases")
    # SQLite (3.35+) and PostgreSQL drop a plain column in place
    op.drop_column("cases", "restricted")
