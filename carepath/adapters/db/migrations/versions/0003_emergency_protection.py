"""Episodes hold the days the child was made subject to an emergency protection order or taken
into police protection (Ofsted Annex A, List 7).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.add_column(sa.Column("emergency_protection", sa.String(),
                                   server_default=sa.text("''"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("emergency_protection")
