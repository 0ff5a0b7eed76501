"""Pack versions side by side: the version new cases use (``pack use``), and migration runs.

``pack_pins`` keeps every pin (the latest row of a pack is in force; a row with no version
unpins it), so who pinned what and when stays on record. ``migration_runs`` and
``migration_cases`` record each ``carepath migrate`` run and, per case, what it did and the
case's state before (for ``migrate undo``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pack_pins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pack_name", sa.String(), nullable=False),
        sa.Column("pack_version", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pack_pins")),
    )
    op.create_index(op.f("ix_pack_pins_pack_name"), "pack_pins", ["pack_name"])
    op.create_table(
        "migration_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_runs")),
    )
    op.create_table(
        "migration_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("version_after", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("undone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["migration_runs.id"],
                                name=op.f("fk_migration_cases_run_id_migration_runs")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_migration_cases_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_cases")),
    )
    op.create_index(op.f("ix_migration_cases_run_id"), "migration_cases", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_migration_cases_run_id"), table_name="migration_cases")
    op.drop_table("migration_cases")
    op.drop_table("migration_runs")
    op.drop_index(op.f("ix_pack_pins_pack_name"), table_name="pack_pins")
    op.drop_table("pack_pins")
