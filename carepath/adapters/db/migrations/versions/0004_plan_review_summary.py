"""Child protection plans keep how many reviews they have and the last one.

A completion needs only those two (the next review falls due six months after the last), so a
record is read without reading every review row; the rows are read only when something asks for
every date (returns, the case file). Existing plans are filled in from their review rows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on both databases. Not batch mode: on SQLite that copies the
    # table and drops the old one, and with foreign keys on, dropping cp_plans would delete every
    # review (ON DELETE CASCADE).
    op.add_column(
        "cp_plans",
        sa.Column("review_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("cp_plans", sa.Column("last_review", sa.Date(), nullable=True))
    op.execute(
        "UPDATE cp_plans SET "
        "review_count = (SELECT count(*) FROM cp_reviews r WHERE r.cp_plan_id = cp_plans.id), "
        "last_review = (SELECT r.review_date FROM cp_reviews r WHERE r.cp_plan_id = cp_plans.id "
        "ORDER BY r.seq DESC LIMIT 1)"
    )


def downgrade() -> None:
    # SQLite (3.35+) and PostgreSQL both drop a plain column in place (no table copy, so no
    # cascade to the reviews).
    op.drop_column("cp_plans", "last_review")
    op.drop_column("cp_plans", "review_count")
