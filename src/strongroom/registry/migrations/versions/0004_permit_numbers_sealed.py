"""permit numbers sealed for their holder

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 04:00:00.000000

Permits kept only the blind index of their number, so an owner could not be shown their
own. Rows written before this version keep a NULL number (the number cannot be recovered
from its blind index); seeding and new permits fill it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number_ct", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.drop_column("number_ct")
