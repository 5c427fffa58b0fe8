"""lift requests of four-eyes containments (a honey read's), waiting for a second admin

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 07:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLE = "detect_lift_requests"


def upgrade() -> None:
    # The containment store creates its tables on first use (detect/store.py), so a
    # server started on the new version before `strongroom init` ran may have made it.
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return
    op.create_table(
        TABLE,
        sa.Column("containment", sa.String(36), primary_key=True),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
