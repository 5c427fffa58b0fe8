"""where each session signed in from: its IP prefix and user agent

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.add_column(sa.Column("ip_prefix", sa.String(64), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.String(256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("user_agent")
        batch.drop_column("ip_prefix")
