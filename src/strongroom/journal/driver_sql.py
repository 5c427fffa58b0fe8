"""Driver-level SQL for the journal's hot paths: primary-key lookups by IN list and
multi-row INSERTs, run on the driver's own cursor in its own parameter style (qmark on
SQLite, format on psycopg). Table and column names are the callers' constants, never
input; values travel as parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def _mark(paramstyle: str) -> str:
    return "?" if paramstyle == "qmark" else "%s"


def marks(conn: Connection, n: int) -> str:
    """`n` parameter marks, comma-separated, in the driver's style."""
    return ", ".join([_mark(conn.dialect.paramstyle)] * n)


def in_sql(conn: Connection, select_from: str, column: str, n: int) -> str:
    """SELECT `select_from` WHERE `column` IN (n parameters)."""
    marks = ", ".join([_mark(conn.dialect.paramstyle)] * n)
    return f"SELECT {select_from} WHERE {column} IN ({marks})"  # noqa: S608


# Rows per INSERT statement. The driver releases the GIL around every statement it steps,
# once per row in an executemany; under load the writer then waits for the GIL again at
# each row while it holds the writer lock, which every other writer process waits on.
# Multi-row VALUES step once per chunk; power-of-two sizes keep the statements few, so the
# driver's statement cache holds them all.
MAX_ROWS = 256


@functools.lru_cache(maxsize=256)
def _values_sql(paramstyle: str, table: str, columns: str, rows: int) -> str:
    row = "(" + ", ".join([_mark(paramstyle)] * (columns.count(",") + 1)) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * rows)}"  # noqa: S608


def insert_rows(
    conn: Connection,
    table: str,
    columns: str,
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert `rows` (tuples in `columns` order) in multi-row INSERTs of MAX_ROWS or fewer,
    on the driver's own cursor, in the connection's transaction (SQLAlchemy's execution
    context costs more per statement than SQLite takes for a chunk of rows)."""
    done, total = 0, len(rows)
    if not total:
        return
    style = conn.dialect.paramstyle
    with _cursor(conn) as cursor:
        while done < total:
            size = min(MAX_ROWS, 1 << ((total - done).bit_length() - 1))
            cursor.execute(
                _values_sql(style, table, columns, size),
                tuple(chain.from_iterable(rows[done : done + size])),
            )
            done += size


def upsert_add(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    added: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert `rows`, or where a row of the same `keys` exists, add the `added` columns to
    it (the others keep their stored values). Keys are distinct within `rows`: PostgreSQL
    refuses to update one row twice in a statement. SQLite 3.24+ and PostgreSQL share the
    syntax."""
    done, total = 0, len(rows)
    if not total:
        return
    style = conn.dialect.paramstyle
    names = ", ".join(columns)
    tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(
        f"{c} = {table}.{c} + excluded.{c}" for c in added
    )
    with _cursor(conn) as cursor:
        while done < total:
            size = min(MAX_ROWS, 1 << ((total - done).bit_length() - 1))
            cursor.execute(
                _values_sql(style, table, names, size) + tail,
                tuple(chain.from_iterable(rows[done : done + size])),
            )
            done += size


def run(conn: Connection, sql: str, params: Sequence[Any] = ()) -> None:
    """A statement without rows to answer, on the driver's own cursor."""
    with _cursor(conn) as cursor:
        cursor.execute(sql, tuple(params))


def fetch(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of a query on the driver's own cursor, in the connection's transaction:
    for the primary-key lookups of a proof, SQLAlchemy's execution context cost more than
    the lookups (a proof is three of them)."""
    with _cursor(conn) as cursor:
        cursor.execute(sql, tuple(params))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


@contextmanager
def _cursor(conn: Connection) -> Iterator[Any]:
    """The driver's cursor, its errors raised as SQLAlchemy's (DBAPIError subclasses), as
    `conn.execute` would raise them: callers catch SQLAlchemyError."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        yield cursor
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error) from exc
    finally:
        cursor.close()
