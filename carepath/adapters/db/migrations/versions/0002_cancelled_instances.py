"""Process instances can be cancelled (their episode closed while they were still running).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot alter a CHECK constraint in place, so the table is copied
    with op.batch_alter_table("process_instances") as batch:
        batch.drop_constraint(op.f("ck_process_instances_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_process_instances_status"),
            "status IN ('running', 'completed', 'cancelled')")


def downgrade() -> None:
    op.execute("UPDATE process_instances SET status = 'completed' WHERE status = 'cancelled'")
    with op.batch_alter_table("process_instances") as batch:
        batch.drop_constraint(op.f("ck_process_instances_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_process_instances_status"), "status IN ('running', 'completed')")
