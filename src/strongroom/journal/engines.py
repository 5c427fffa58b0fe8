"""Engines for the journal's databases, and the writer locks.

The journal is a database apart from the registry (it must outlive it). On SQLite it runs
in WAL mode with synchronous=FULL: a commit returns only after the WAL is on disk, so an
acknowledged entry survives a power cut, not only a crash; group commit amortizes the
fsync over every entry in a batch.

The investigation indexes have a writer lock of their own, so indexing never holds up an
append. On SQLite they also live in a file of their own beside the log's,
`<journal>-index` (`make_engines`): a SQLite file has one writer at a time, and in the
log's file indexing would make every other writer process wait for it. Being derived from
the log, the index file runs with synchronous=NORMAL (a power cut may lose its last
transactions, indexed_size with them, and those entries are indexed again) and may be
deleted: it is rebuilt from the log. On PostgreSQL the indexes stay in the journal's
database, under an advisory lock of their own.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from strongroom.errors import BadRequest


def make_engine(url: str, *, durable: bool = True) -> Engine:
    """An engine for the journal at `url`. durable=False (the index file, which is derived
    from the log) commits with synchronous=NORMAL."""
    try:
        if url.startswith("sqlite"):
            if url in ("sqlite://", "sqlite:///:memory:"):
                raise BadRequest("the journal must be a file or a server, not :memory:")
            engine = create_engine(
                url, connect_args={"check_same_thread": False}, pool_size=8, max_overflow=8
            )
            sync = "FULL" if durable else "NORMAL"

            def connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
                _sqlite_connect(dbapi_conn, sync)

            event.listen(engine, "connect", connect)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise BadRequest(f"cannot use journal database URL {url!r}: {exc}") from exc
    return engine


def make_engines(url: str) -> tuple[Engine, Engine]:
    """The log's engine and the indexes': on SQLite the file `<journal>-index` beside the
    journal's, elsewhere the same engine."""
    engine = make_engine(url)
    if engine.dialect.name != "sqlite":
        return engine, engine
    index_url = engine.url.set(database=f"{engine.url.database}-index")
    return engine, make_engine(index_url.render_as_string(hide_password=False), durable=False)


def _sqlite_connect(dbapi_conn: sqlite3.Connection, synchronous: str) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={synchronous}")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN IMMEDIATE on the connections `writing` marks: a writer holds SQLite's write
    lock from its first statement, so the tree size it reads is the one it appends at.
    Readers BEGIN (deferred)."""
    immediate = conn.get_execution_options().get("journal_writer", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# Advisory lock keys for the journal's writers on a PostgreSQL database (any constants):
# one for the log, one for the indexes.
PG_LOCK_KEY = 0x5352_4A4E
PG_INDEX_LOCK_KEY = 0x5352_4A49


@contextmanager
def writing(engine: Engine, *, index: bool = False) -> Iterator[Connection]:
    """A connection in a write transaction that holds the journal's writer lock (with
    index=True, the indexes' writer lock).

    On SQLite, writers of every process first take an exclusive flock on a file beside the
    database (`<db>-writer.lock`), then BEGIN IMMEDIATE. SQLite alone would serialize them
    too, but its busy handler polls in sleeps of 1 to 100 ms, so two server workers sharing
    a journal would spend much of their time asleep; a waiter on the flock wakes as soon
    as the holder commits. The kernel drops the flock of a process that dies.
    On PostgreSQL, writers serialize on a transaction-scoped advisory lock.
    """
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    # owner-only, like the journal itself (the file is empty; only its lock matters)
    lock = os.open(f"{path}-writer.lock", os.O_WRONLY | os.O_CREAT, 0o600) if path else None
    try:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released by close()
        with engine.connect().execution_options(journal_writer=True) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"),
                    {"k": PG_INDEX_LOCK_KEY if index else PG_LOCK_KEY},
                )
            yield conn
    finally:
        if lock is not None:
            os.close(lock)
