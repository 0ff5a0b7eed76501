"""The looked-after record: ``looked_after`` (one row per case with any looked-after data: UASC,
mother, previous permanence) and one table per list (periods of care, legal statuses,
placements, LAC reviews, missing episodes, adoption decisions, outcomes, care-leaver contacts,
social worker allocations), each row keyed by ``(case_id, seq)``.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S, D, B, I = sa.String, sa.Date, sa.Boolean, sa.Integer  # noqa: E741

# table -> (column, type, nullable) after case_id and seq
LISTS: dict[str, tuple[tuple[str, type, bool], ...]] = {
    "lac_periods": (("start_date", D, False), ("need", S, True), ("end_date", D, True),
                    ("reason_ceased", S, True)),
    "lac_legal_statuses": (("code", S, False), ("start_date", D, False), ("end_date", D, True)),
    "lac_placements": (("placement_type", S, False), ("start_date", D, False),
                       ("end_date", D, True), ("provider", S, True), ("carer", S, True),
                       ("urn", S, True), ("postcode", S, True), ("home_postcode", S, True),
                       ("reason_changed", S, True)),
    "lac_reviews": (("held_date", D, False), ("participation", S, True)),
    "lac_missing": (("kind", S, False), ("start_date", D, False), ("end_date", D, True),
                    ("rhi_offered", B, True), ("rhi_accepted", B, True)),
    "lac_adoptions": (("decision_date", D, False), ("reversed_date", D, True),
                      ("reversed_reason", S, True), ("placement_order_date", D, True),
                      ("matched_date", D, True), ("adopters", I, True), ("adopters_sex", S, True),
                      ("adopters_legal_status", S, True), ("by_foster_carer", B, True)),
    "lac_outcomes": (("year", I, False), ("sdq_score", I, True), ("sdq_reason", S, True),
                     ("convicted", B, True), ("health_check", B, True),
                     ("immunisations", B, True), ("teeth_check", B, True),
                     ("health_assessment", B, True), ("substance_misuse", B, True),
                     ("intervention_received", B, True), ("intervention_offered", B, True)),
    "lac_care_leaver_contacts": (("contact_date", D, False), ("in_touch", S, False),
                                 ("activity", S, True), ("accommodation", S, True),
                                 ("personal_adviser", S, True)),
    "lac_social_workers": (("worker", S, False), ("start_date", D, False), ("end_date", D, True),
                           ("reason", S, True)),
}


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_case_id_cases"))


def upgrade() -> None:
    op.create_table(
        "looked_after",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("uasc", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("uasc_ceased", sa.Date(), nullable=True),
        sa.Column("mother", sa.Boolean(), nullable=True),
        sa.Column("first_child_born", sa.Date(), nullable=True),
        sa.Column("prev_perm_option", sa.String(), nullable=True),
        sa.Column("prev_perm_year", sa.Integer(), nullable=True),
        sa.Column("prev_perm_month", sa.Integer(), nullable=True),
        sa.Column("prev_perm_day", sa.Integer(), nullable=True),
        sa.Column("prev_perm_la", sa.String(), nullable=True),
        _case_fk("looked_after"),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_looked_after")),
    )
    for table, columns in LISTS.items():
        op.create_table(
            table,
            sa.Column("case_id", sa.Integer(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            *(sa.Column(name, kind(), nullable=nullable) for name, kind, nullable in columns),
            _case_fk(table),
            sa.PrimaryKeyConstraint("case_id", "seq", name=op.f(f"pk_{table}")),
        )


def downgrade() -> None:
    for table in reversed(list(LISTS)):
        op.drop_table(table)
    op.drop_table("looked_after")
