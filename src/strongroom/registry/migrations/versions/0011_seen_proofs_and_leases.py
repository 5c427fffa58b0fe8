"""DPoP proofs seen, shared by every worker and kept across restarts; leases (one worker
sends checkpoints to the witnesses)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 10:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_seen_proofs",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_auth_seen_proofs_expires_at", "auth_seen_proofs", ["expires_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_auth_seen_proofs_expires_at", table_name="auth_seen_proofs")
    op.drop_table("auth_seen_proofs")
