"""per-person data keys and erasure tombstones

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:45:00.000000

A data key that belongs to one person only carries that person's internal key
(`data_keys.person_id`): erasing the person deletes exactly those keys (crypto-shredding).
An erased person keeps its row, with `erased_at`, so journal entries naming its public ID
still resolve to "erased" rather than to nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_data_keys_person_id"), ["person_id"], unique=False)
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_keys_person_id"))
        batch_op.drop_column("person_id")
