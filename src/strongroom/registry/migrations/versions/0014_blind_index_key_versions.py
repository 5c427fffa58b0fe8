"""blind-index key versions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 13:00:00.000000

The blind-index key can be rotated online (issue 25): `blind_index_keys` says which
versions are active, being filled or retired, and every indexed row records the version
that computed its index (`bidx_key`), so a rotation knows what is left and resumes. Rows
written before were all under version 1, the only one there was. A permit of an erased
person loses its number's index at the next rotation (its sealed number is gone, nothing
can recompute it): `number_bidx` may be NULL.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXED = ("identities", "permits", "weapons")


def upgrade() -> None:
    keys = op.create_table(
        "blind_index_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_blind_index_keys")),
    )
    now = time.time()
    op.bulk_insert(keys, [{"version": 1, "state": "active", "started_at": now, "finished_at": now}])
    for table in INDEXED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("bidx_key", sa.Integer(), server_default="1", nullable=False)
            )
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.alter_column("number_bidx", existing_type=sa.LargeBinary(length=16), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.alter_column(
            "number_bidx", existing_type=sa.LargeBinary(length=16), nullable=False
        )
    for table in INDEXED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("bidx_key")
    op.drop_table("blind_index_keys")
