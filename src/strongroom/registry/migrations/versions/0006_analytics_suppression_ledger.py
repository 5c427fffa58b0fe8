"""analytics suppression ledger

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-20 10:00:00.000000

What each analytics release published and hid (`strongroom.analytics.ledger`), in the
registry database so analysts, who read the analytics schema or file only, never see it.
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
        "analytics_releases",
        sa.Column("release", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("built_at", sa.Float(), nullable=False),
        sa.Column("built_by", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("release", name=op.f("pk_analytics_releases")),
    )
    op.create_table(
        "analytics_cells",
        sa.Column("grp", sa.String(length=80), nullable=False),
        sa.Column("level", sa.String(length=200), nullable=False),
        sa.Column("cell", sa.String(length=1000), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("hidden_ever", sa.Boolean(), nullable=False),
        sa.Column("protected_ever", sa.Boolean(), nullable=False),
        sa.Column("published_n", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("grp", "level", "cell", name=op.f("pk_analytics_cells")),
    )
    op.create_table(
        "analytics_knowledge",
        sa.Column("grp", sa.String(length=80), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("grp", name=op.f("pk_analytics_knowledge")),
    )


def downgrade() -> None:
    op.drop_table("analytics_knowledge")
    op.drop_table("analytics_cells")
    op.drop_table("analytics_releases")
