"""the console's sessions and sign-ins under way, and the journal's verification run, shared
by every worker

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The stores create their tables on first use (auth/client_sessions.py,
    # gate/verification_runs.py), so a server started on the new version before
    # `strongroom init` ran may have made them.
    existing = sa.inspect(op.get_bind())
    if not existing.has_table("console_sessions"):
        op.create_table(
            "console_sessions",
            sa.Column("sid_hash", sa.String(64), primary_key=True),
            sa.Column("principal_id", sa.String(64), nullable=False, server_default=""),
            sa.Column("role", sa.String(64), nullable=False, server_default=""),
            sa.Column("sealed", sa.LargeBinary(), nullable=False),
            sa.Column("expires_at", sa.Float(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("refreshing_until", sa.Float(), nullable=True),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("last_seen", sa.Float(), nullable=False),
            sa.Column("absolute_expiry", sa.Float(), nullable=False),
        )
        op.create_index("ix_console_sessions_last_seen", "console_sessions", ["last_seen"])
        op.create_index(
            "ix_console_sessions_absolute_expiry", "console_sessions", ["absolute_expiry"]
        )
    if not existing.has_table("console_sign_ins"):
        op.create_table(
            "console_sign_ins",
            sa.Column("pid_hash", sa.String(64), primary_key=True),
            sa.Column("sealed", sa.LargeBinary(), nullable=False),
            sa.Column("redirect_uri", sa.String(2048), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
        )
        op.create_index("ix_console_sign_ins_created_at", "console_sign_ins", ["created_at"])
    if not existing.has_table("journal_verification_runs"):
        op.create_table(
            "journal_verification_runs",
            sa.Column("name", sa.String(32), primary_key=True),
            sa.Column("run_id", sa.String(64), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("started_by", sa.String(64), nullable=True),
            sa.Column("started_at", sa.Float(), nullable=False),
            sa.Column("checked", sa.BigInteger(), nullable=False),
            sa.Column("total", sa.BigInteger(), nullable=False),
            sa.Column("heartbeat", sa.Float(), nullable=False),
            sa.Column("finished_at", sa.Float(), nullable=True),
            sa.Column("report", sa.JSON(), nullable=True),
        )


def downgrade() -> None:
    op.drop_table("journal_verification_runs")
    op.drop_table("console_sign_ins")
    op.drop_table("console_sessions")
