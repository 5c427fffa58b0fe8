"""A scratch PostgreSQL database for one benchmark run (shared by the benchmarks that
measure on PostgreSQL): created on the test server, dropped by the caller when done."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

PG_ADMIN = os.environ.get(
    "STRONGROOM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def pg_database() -> tuple[str, Callable[[], None]] | None:
    """(URL of a fresh database, a function that drops it), or None when no PostgreSQL
    server answers (the benchmark then measures SQLite only)."""
    import sqlalchemy as sa

    name = f"sr_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - no server: SQLite only
        print(f"PostgreSQL skipped: {type(exc).__name__}")
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop
