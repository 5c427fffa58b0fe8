"""export suppression ledger

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 11:00:00.000000

What each aggregate export published and hid, per dataset (`strongroom.exports.store`, the
analytics ledger's shape): the next export of the dataset keeps hidden what any earlier
one hid and is audited against all of them (issue 21, differencing across releases).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_suppression_cells",
        sa.Column("grp", sa.String(length=80), nullable=False),
        sa.Column("level", sa.String(length=200), nullable=False),
        sa.Column("cell", sa.String(length=1000), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("hidden_ever", sa.Boolean(), nullable=False),
        sa.Column("protected_ever", sa.Boolean(), nullable=False),
        sa.Column("published_n", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("grp", "level", "cell", name=op.f("pk_export_suppression_cells")),
    )
    op.create_table(
        "export_suppression_knowledge",
        sa.Column("grp", sa.String(length=80), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("grp", name=op.f("pk_export_suppression_knowledge")),
    )
    op.create_table(
        "export_suppression_releases",
        sa.Column("dataset", sa.String(length=80), nullable=False),
        sa.Column("release", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("export_id", sa.String(length=36), nullable=False),
        sa.Column("built_at", sa.Float(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "release", name=op.f("pk_export_suppression_releases")),
    )


def downgrade() -> None:
    op.drop_table("export_suppression_releases")
    op.drop_table("export_suppression_knowledge")
    op.drop_table("export_suppression_cells")
