"""transfers by person

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 09:40:00.000000

A link asks whether a weapon passed between the subject and a subject of the case (the
linking detector's `related`): transfers are looked up by either party.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfers_from_person_id"), ["from_person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfers_to_person_id"), ["to_person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfers_to_person_id"))
        batch_op.drop_index(batch_op.f("ix_transfers_from_person_id"))
