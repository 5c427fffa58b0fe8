"""`strongroom analytics grant`: the PostgreSQL role analysts use, reading schema
`analytics` and nothing else.

The role gets USAGE on the schema and SELECT on its tables (now, and on the tables each
later build creates: default privileges of the role that builds), CONNECT on the
database, and `analytics` as its search path. It gets nothing else, and the grant then
checks what it can reach: any table outside the schema it can read (through a grant to
PUBLIC, a role it belongs to, or ownership), superuser or BYPASSRLS, and membership of
the roles that read everything or read server files (`pg_read_all_data`,
`pg_read_server_files`, `pg_execute_server_program`) are reported. Key material is not in
the database (keys/ in the home); the wrapped data keys in `data_keys` are a base table
like the others.

A login password is sent as a SCRAM-SHA-256 verifier computed here (what psql's
\\password does), so the password itself never reaches the server's statement log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from typing import Any

from psycopg.sql import SQL, Composed, Identifier, Literal
from sqlalchemy import Connection, Engine, text

from strongroom.analytics.store import SCHEMA
from strongroom.errors import BadRequest

DEFAULT_ROLE = "strongroom_analyst"
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SCRAM_ITERATIONS = 4096
READ_ALL = ("pg_read_all_data", "pg_read_server_files", "pg_execute_server_program")


@dataclass
class GrantReport:
    role: str
    login: bool
    created: bool
    tables: int  # analytics tables readable now
    reach: list[str] = field(default_factory=list)  # what it can read beyond analytics

    @property
    def confined(self) -> bool:
        return not self.reach


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """RFC 5802 / RFC 7677 stored form, as PostgreSQL keeps it in pg_authid."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def check_role_name(role: str) -> str:
    if not ROLE_NAME.match(role):
        raise BadRequest(
            f"role name {role!r}: lower-case letters, digits and _, at most 63, not starting "
            "with a digit"
        )
    return role


def grant(engine: Engine, role: str, *, password: str | None = None) -> GrantReport:
    if engine.dialect.name != "postgresql":
        raise BadRequest(
            "the embedded deployment (SQLite) has no database roles: give analysts a copy of "
            "analytics.db from the home, which holds the views and nothing else"
        )
    check_role_name(role)
    if password is not None and not password:
        raise BadRequest("an empty password")
    with engine.begin() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        if not conn.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": SCHEMA}
        ).first():
            raise BadRequest("no analytics schema yet: run `strongroom analytics build` first")
        db = conn.execute(text("SELECT current_database()")).scalar_one()
        ddl = _ddl(role, db, exists is None, password)
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            for statement in ddl:
                cur.execute(statement)
        tables = int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = :s "
                    "AND has_table_privilege(:r, format('%I.%I', schemaname, tablename), "
                    "'SELECT')"
                ),
                {"s": SCHEMA, "r": role},
            ).scalar_one()
        )
        reach = reach_beyond(conn, role)
    return GrantReport(
        role=role,
        login=password is not None,
        created=exists is None,
        tables=tables,
        reach=reach,
    )


def _ddl(role: str, db: str, create: bool, password: str | None) -> list[Composed]:
    """The statements, quoted by psycopg (identifiers and the verifier literal)."""
    r, schema = Identifier(role), Identifier(SCHEMA)
    out: list[Composed] = []
    if create:
        out.append(SQL("CREATE ROLE {} NOLOGIN").format(r))
    if password is not None:
        out.append(
            SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(r, Literal(scram_verifier(password)))
        )
    out += [
        SQL("GRANT CONNECT ON DATABASE {} TO {}").format(Identifier(db), r),
        SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, r),
        SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, r),
        # Each build drops and creates the tables: the builder's default privileges hand
        # the new ones to the role as they are created, inside the build's transaction.
        SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(schema, r),
        SQL("ALTER ROLE {} SET search_path = {}").format(r, schema),
    ]
    return out


def reach_beyond(conn: Connection, role: str) -> list[str]:
    """What `role` can read outside schema analytics (empty: confined)."""
    out: list[str] = []
    attrs = conn.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": role}
    ).one()
    if attrs.rolsuper:
        out.append("superuser")
    if attrs.rolbypassrls:
        out.append("BYPASSRLS")
    for member in READ_ALL:
        held = conn.execute(
            text("SELECT pg_has_role(:r, oid, 'USAGE') FROM pg_roles WHERE rolname = :m"),
            {"r": role, "m": member},
        ).scalar()
        if held:
            out.append(f"member of {member}")
    rows = conn.execute(
        text(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema', :s) "
            "AND n.nspname NOT LIKE 'pg_toast%' "
            "AND has_table_privilege(:r, c.oid, 'SELECT') "
            "ORDER BY 1, 2"
        ),
        {"r": role, "s": SCHEMA},
    )
    out += [f"table {schema}.{name}" for schema, name in rows]
    return out
