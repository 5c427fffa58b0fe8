"""analytics change log

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 13:30:00.000000

What an incremental analytics refresh starts from (`strongroom.analytics.changes`): the
registry's change log, written by triggers on the registry's tables (so every writer is
seen: the service, the seeder, an operator's SQL), each counted person's sealed
contribution to the last release, and that release's sealed counts.
"""

# ruff: noqa: S608  (the SQL is built from the fixed table and column names below)
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Pk = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# table -> the column naming the person a row concerns (None: the table's writes name no
# person, and a refresh counts in full after them).
PERSON_OF = {
    "persons": "id",
    "identities": "person_id",
    "addresses": "person_id",
    "permits": "person_id",
    "weapons": "holder_id",
    "sales": "buyer_id",
    "bans": "person_id",
    "dealers": None,
    "canary_marks": None,
}
# A weapon's category is counted in its sales too: its buyers change with it.
WEAPON_BUYERS = "SELECT buyer_id, 'weapons' FROM sales WHERE weapon_id = {ref}.id"
OPS = {"insert": ("new",), "update": ("old", "new"), "delete": ("old",)}


def _sqlite_triggers(table: str, column: str | None) -> list[str]:
    out = []
    for op_name, refs in OPS.items():
        if column is None and op_name == "insert" and table == "dealers":
            continue  # a new dealer has sold nothing yet
        body = []
        for ref in refs:
            if column is None:
                body.append(
                    f"INSERT INTO analytics_changes (person_id, source) VALUES (NULL, '{table}');"
                )
                break
            body.append(
                f"INSERT INTO analytics_changes (person_id, source) SELECT {ref}.{column}, "
                f"'{table}' WHERE {ref}.{column} IS NOT NULL;"
            )
            if table == "weapons" and op_name == "update":
                body.append(
                    "INSERT INTO analytics_changes (person_id, source) "
                    + WEAPON_BUYERS.format(ref=ref)
                    + ";"
                )
        out.append(
            f"CREATE TRIGGER analytics_{table}_{op_name} AFTER {op_name.upper()} ON {table} "
            f"BEGIN {' '.join(body)} END"
        )
    return out


def _postgresql_triggers(table: str, column: str | None) -> list[str]:
    # Statement triggers over transition tables: one insert per statement, so a seed's
    # COPY of a million rows costs one INSERT ... SELECT DISTINCT, not a million.
    fn = f"analytics_changed_{table}"
    parts = []
    for ref in ("new", "old"):
        if column is None:
            what = f"SELECT NULL::bigint, '{table}'"
        else:
            what = f"SELECT DISTINCT {column}, '{table}' FROM {ref}_rows WHERE {column} IS NOT NULL"
            if table == "weapons":
                what += (
                    f" UNION SELECT s.buyer_id, 'weapons' FROM sales s JOIN {ref}_rows w "
                    "ON s.weapon_id = w.id WHERE TG_OP = 'UPDATE'"
                )
        ops = "('INSERT', 'UPDATE')" if ref == "new" else "('UPDATE', 'DELETE')"
        parts.append(
            f"IF TG_OP IN {ops} THEN INSERT INTO analytics_changes (person_id, source) {what}; "
            "END IF;"
        )
    out = [
        f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        + " ".join(parts)
        + " RETURN NULL; END $$",
        # Only its triggers call it (as the table's writer); no role may call it itself.
        f"REVOKE ALL ON FUNCTION {fn}() FROM PUBLIC",
    ]
    for op_name, refs in OPS.items():
        if column is None and op_name == "insert" and table == "dealers":
            continue
        referencing = " ".join(f"{r.upper()} TABLE AS {r}_rows" for r in refs)
        out.append(
            f"CREATE TRIGGER analytics_{table}_{op_name} AFTER {op_name.upper()} ON {table} "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {fn}()"
        )
    return out


def upgrade() -> None:
    op.create_table(
        "analytics_changes",
        sa.Column("seq", Pk, autoincrement=True, nullable=False),
        sa.Column("person_id", Pk, nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_analytics_changes")),
    )
    op.create_table(
        "analytics_people",
        sa.Column("person_id", Pk, autoincrement=False, nullable=False),
        sa.Column("recheck", sa.LargeBinary(length=16), nullable=True),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_analytics_people")),
    )
    op.create_index(
        op.f("ix_analytics_people_recheck"), "analytics_people", ["recheck"], unique=False
    )
    op.create_table(
        "analytics_tallies",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_tallies")),
    )
    make = _postgresql_triggers if op.get_bind().dialect.name == "postgresql" else _sqlite_triggers
    for table, column in PERSON_OF.items():
        for statement in make(table, column):
            op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, column in PERSON_OF.items():
        for op_name in OPS:
            if column is None and op_name == "insert" and table == "dealers":
                continue
            on = f" ON {table}" if postgresql else ""
            op.execute(f"DROP TRIGGER IF EXISTS analytics_{table}_{op_name}{on}")
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS analytics_changed_{table}()")
    op.drop_index(op.f("ix_analytics_people_recheck"), table_name="analytics_people")
    op.drop_table("analytics_tallies")
    op.drop_table("analytics_people")
    op.drop_table("analytics_changes")
