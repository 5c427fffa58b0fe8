"""passkeys (WebAuthn credentials) and their outstanding challenges

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 04:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_passkeys",
        sa.Column("credential_id", sa.String(1024), primary_key=True),
        sa.Column("principal_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("aaguid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.Column("flagged_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_auth_passkeys_principal_id", "auth_passkeys", ["principal_id"])
    op.create_table(
        "auth_webauthn_challenges",
        sa.Column("challenge_hash", sa.String(64), primary_key=True),
        sa.Column("ceremony", sa.String(16), nullable=False),
        sa.Column("bound_to", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("auth_webauthn_challenges")
    op.drop_index("ix_auth_passkeys_principal_id", table_name="auth_passkeys")
    op.drop_table("auth_passkeys")
