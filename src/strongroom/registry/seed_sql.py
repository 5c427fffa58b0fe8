"""Bulk insertion for the seed: plain DB-API `executemany` on SQLite, `COPY ... FROM STDIN`
on PostgreSQL (psycopg 3), both inside the caller's transaction.

Table and column names in SQL text below are constants, never input. Rows arrive as tuples
in the column order of `COLUMNS`, parents before children, so foreign keys hold at every
statement.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, text

COLUMNS: dict[str, tuple[str, ...]] = {
    # Person keys first: written with the ciphertexts they protect, in the same batch.
    "data_keys": ("id", "store", "kek_version", "wrapped", "person_id"),
    "dealers": ("id", "public_id", "name", "departement"),
    "persons": ("id", "public_id", "departement"),
    "identities": (
        "person_id",
        "family_name_ct",
        "given_names_ct",
        "birth_date_ct",
        "birth_place_ct",
        "name_dob_bidx",
        "bidx_key",
    ),
    "addresses": ("person_id", "street_ct", "city_ct", "postcode_ct"),
    "permits": (
        "id",
        "public_id",
        "person_id",
        "number_bidx",
        "bidx_key",
        "number_ct",
        "kind",
        "categories",
        "issued",
        "expires",
        "status",
    ),
    "weapons": (
        "id",
        "public_id",
        "serial_bidx",
        "bidx_key",
        "serial_ct",
        "category",
        "make",
        "model",
        "calibre",
        "status",
        "holder_id",
        "dealer_id",
    ),
    "sales": (
        "id",
        "public_id",
        "dealer_id",
        "weapon_id",
        "buyer_id",
        "permit_id",
        "sold_at",
        "recorded_by",
    ),
    "transfers": ("id", "weapon_id", "from_person_id", "to_person_id", "dealer_id", "at"),
    "bans": ("id", "person_id", "since", "until"),
    "canary_marks": ("mark",),
}
ORDER = tuple(COLUMNS)
_SQLITE_BULK = {"synchronous": 0, "wal_autocheckpoint": 50000}
SERIAL_TABLES = ("dealers", "persons", "permits", "weapons", "sales", "transfers", "bans")


def empty_rows() -> dict[str, list[tuple[Any, ...]]]:
    return {table: [] for table in ORDER}


# SQLAlchemy stores a Date as ISO text on SQLite; do the same without its per-row cost.
_DATE_COLUMNS = {"permits": (6, 7), "bans": (2, 3)}


def _iso_dates(batch: list[tuple[Any, ...]], positions: tuple[int, ...]) -> list[tuple[Any, ...]]:
    out = []
    for row in batch:
        cells = list(row)
        for i in positions:
            value = cells[i]
            if isinstance(value, date):
                cells[i] = value.isoformat()
        out.append(tuple(cells))
    return out


def insert_rows(conn: Connection, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    dbapi: Any = conn.connection.driver_connection
    postgres = conn.dialect.name == "postgresql"
    for table in ORDER:
        batch = rows.get(table)
        if not batch:
            continue
        cols = COLUMNS[table]
        if postgres:
            with (
                dbapi.cursor() as cur,
                cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy,
            ):
                for row in batch:
                    copy.write_row(row)
        else:
            if table in _DATE_COLUMNS:
                batch = _iso_dates(batch, _DATE_COLUMNS[table])
            marks = ", ".join("?" for _ in cols)
            cur = dbapi.cursor()
            try:
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) "  # noqa: S608
                    f"VALUES ({marks})",
                    batch,
                )
            finally:
                cur.close()


@contextmanager
def bulk_load(conn: Connection, *, cache_mib: int = 512) -> Iterator[None]:
    """Settings for a bulk load on this one connection, restored afterwards. A seed that
    crashes is rerun, so it may trade durability of each batch for speed: on SQLite no fsync
    (synchronous=OFF) and a large page cache for the random-key indexes (UUIDs, blind
    indexes), whose inserts touch pages all over the file; on PostgreSQL asynchronous
    commit."""
    dbapi: Any = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        # Straight on the driver: pysqlite runs PRAGMA outside any transaction.
        bulk = {**_SQLITE_BULK, "cache_size": -1024 * int(cache_mib)}
        saved = {p: dbapi.execute(f"PRAGMA {p}").fetchone()[0] for p in bulk}
        for pragma, value in bulk.items():
            dbapi.execute(f"PRAGMA {pragma}={value}")
        try:
            yield
        finally:
            for pragma, value in saved.items():
                dbapi.execute(f"PRAGMA {pragma}={value}")
    else:
        with conn.begin():
            conn.execute(text("SET synchronous_commit = off"))
        try:
            yield
        finally:
            with conn.begin():
                conn.execute(text("RESET synchronous_commit"))


def max_ids(engine: Engine) -> dict[str, int]:
    """The highest internal key per table, so a seed appends after existing rows."""
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {t}")).scalar() or 0)  # noqa: S608
            for t in SERIAL_TABLES
        }


def advance_sequences(conn: Connection, tables: Sequence[str] = SERIAL_TABLES) -> None:
    """Explicit keys do not move PostgreSQL's sequences: move them past the seeded rows."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        sql = (
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"GREATEST((SELECT MAX(id) FROM {table}), 1))"
        )
        conn.execute(text(sql))


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() or 0)  # noqa: S608
            for t in ORDER
        }
