"""sealed TOTP seeds and sign-in locks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 03:20:00.000000

The plaintext seed columns stay until every deployment has started once on this version:
the migration has no vault keys, so the service seals what it finds there at start
(`Credentials.seal_plaintext_seeds`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret_ct", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("totp_pending_ct", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("locked_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_credentials", schema=None) as batch_op:
        batch_op.drop_column("locked_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("totp_pending_ct")
        batch_op.drop_column("totp_secret_ct")
