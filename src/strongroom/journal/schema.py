"""The journal's own database: tables, engine settings, and a tiny versioned schema.

The journal is a separate database from the registry (it must outlive it), so it does not
share the registry's Alembic history. It keeps one row `schema_version` in `journal_meta`;
`ensure_schema()` creates the tables with `metadata.create_all` on an empty database and
refuses to open a database written by a newer version. A future change adds a step to
`_UPGRADES`.

Tables: `journal_leaves` (the entries, in order, each with its leaf hash and, in `up`, the
hashes of the perfect subtrees of levels 1 to LEAF_LEVELS that it completes: leaf i
completes one per trailing zero bit of i + 1, so every such node is stored once, in the
row of its last leaf), `journal_nodes` (the perfect subtrees above LEAF_LEVELS, completed
by one leaf in 2**LEAF_LEVELS, keyed by `nid`), `journal_checkpoints` (signed notes).
Leaves and nodes are written in the append's own transaction and grow at their ends
only, so a group commit dirties a handful of pages. Before version 6 every node had a row
in journal_nodes, which cost as much as its entry's row (4.4 of 10 us an entry in a
commit, on a slow VM); the upper nodes stay there because their table is small enough
to stay in cache, where a proof reads most of its nodes. Leaves written before version 6
have a NULL `up`: their nodes are all in journal_nodes.

The side indexes for investigations are derived from the entries and written apart, in
large chunks, behind the log (`store.index_known` and `store.index_gap`, driven by the
writer): `journal_principals` (bucket, principal, ts, leaf), `journal_subjects` (bucket,
subject key, leaf) and `journal_containments` (target, leaf, ts), with
`journal_index_meta.indexed_size`, which says how far they reach without a gap and moves
in the same transaction as their rows. On SQLite they live in a database file of their own
beside the log's (`<journal>-index`, `make_engines`), with a writer lock of their own: a
SQLite file has one writer at a time, and indexing under the log's lock made every other
writer process wait for it (2 processes: 29,000 -> 40,000 appends/s once apart). Being
derived, the index file runs with synchronous=NORMAL (a power cut may lose its last
transactions, indexed_size with them, and the entries are indexed again) and may be
deleted: it is rebuilt from the log. On PostgreSQL they stay in the journal's database,
under an advisory lock of their own. Readers take the index below indexed_size and read
the few entries above it directly, so an answer is always complete. Each writer indexes
the entries it appended from the rows it prepared; when several processes append, one may
index its entries above another's that are not indexed yet, and `journal_index_ranges`
records those runs until indexed_size reaches them.
Entries nobody indexed (their writer stopped) are read back from the log. Indexing inside
the append cost most of it: every entry of a batch dirtied its own random index page (a
WAL write and a checkpoint write per entry), several times the entry's own cost.

Both indexes lead with bucket = leaf >> 14, so an indexing chunk works inside the newest
bucket's few hundred pages, which stay in cache and are written once per chunk, whatever
the journal's size; a lookup costs one seek per bucket (611 at 10 million entries). Keyed
by principal or subject first, a chunk dirtied a page per distinct principal and subject
across the whole index. The subject key is a 63-bit BLAKE2b of the subject ID; readers
check the entry itself, so a key collision can only cost a read, never a wrong answer.
Version 1 indexed inside the append (principal and ts columns on the leaves, subjects by
text), versions before 5 kept the indexes in the log's file; `_UPGRADES` moves older
journals to this layout.

SQLite runs in WAL mode with synchronous=FULL: a commit returns only after the WAL is on
disk, so an acknowledged entry survives a power cut, not only a crash. Group commit
amortizes the fsync over every entry in a batch. The writer takes `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from strongroom.errors import BadRequest, Unavailable
from strongroom.journal.driver_sql import fetch, insert_rows

SCHEMA_VERSION = 6
log = logging.getLogger(__name__)
# Integer primary keys: on SQLite only INTEGER PRIMARY KEY is the rowid itself.
BigInt = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()  # the log
index_metadata = MetaData()  # the investigation indexes (their own file on SQLite)

meta = Table(
    "journal_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

leaves = Table(
    "journal_leaves",
    metadata,
    Column("idx", BigInt, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    # the hashes of the subtrees up to LEAF_LEVELS this leaf completes, level 1 first
    # (rfc6962.completed); NULL for leaves written before version 6, whose nodes are in
    # journal_nodes. Before the entry, so reading it never walks an entry's overflow
    # pages (on SQLite; an upgraded journal has it last).
    Column("up", LargeBinary, nullable=True),
    Column("entry", LargeBinary, nullable=False),
)

# Both investigation indexes lead with bucket = leaf >> BUCKET_SHIFT, so an indexing chunk
# inserts into the newest bucket's few hundred pages however large the journal is, and a
# lookup costs one seek per bucket.
BUCKET_SHIFT = 14


def buckets_below(size: int) -> list[int]:
    """The buckets that entries [0, size) fall in."""
    return list(range(((size - 1) >> BUCKET_SHIFT) + 1))


principals = Table(
    "journal_principals",
    index_metadata,
    Column("bucket", BigInt, primary_key=True, autoincrement=False),
    Column("principal", String(128), primary_key=True),
    Column("ts", Float, primary_key=True),
    Column("leaf", BigInt, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

# Nodes of levels 1 to LEAF_LEVELS live in the row of the leaf that completes them, those
# above in journal_nodes (and all nodes of leaves written before version 6). One integer
# key per node, nid = level << 56 | index: each level is one contiguous key range.
LEAF_LEVELS = 7
NID_SHIFT = 56

nodes = Table(
    "journal_nodes",
    metadata,
    Column("nid", BigInt, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)


def nid(level: int, index: int) -> int:
    return (level << NID_SHIFT) | index


subjects = Table(
    "journal_subjects",
    index_metadata,
    Column("bucket", BigInt, primary_key=True, autoincrement=False),
    Column("skey", BigInt, primary_key=True, autoincrement=False),
    Column("leaf", BigInt, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)


_blake2b_64 = functools.partial(hashlib.blake2b, digest_size=8)


def subject_key(subject: str) -> int:
    """A stable 63-bit key for a subject ID (fits a signed BIGINT everywhere)."""
    return int.from_bytes(_blake2b_64(subject.encode()).digest()) >> 1


containments = Table(
    "journal_containments",
    index_metadata,
    Column("target", String(128), primary_key=True),
    Column("leaf", BigInt, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False),
    sqlite_with_rowid=False,
)

# Runs [lo, hi) of entries indexed above indexed_size: each writer indexes what it
# appended, so with several writer processes one may index its entries before another has
# indexed the ones below them.
index_ranges = Table(
    "journal_index_ranges",
    index_metadata,
    Column("lo", BigInt, primary_key=True, autoincrement=False),
    Column("hi", BigInt, nullable=False),
)

index_meta = Table(
    "journal_index_meta",
    index_metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

checkpoints = Table(
    "journal_checkpoints",
    metadata,
    Column("seq", BigInt, primary_key=True, autoincrement=False),
    Column("size", BigInt, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created", Float, nullable=False),
)


def _upgrade_1_indexes_apart(conn: Connection) -> None:
    """v1 -> v2: move the principal index off the leaves into `journal_principals`, and
    rebuild the subject index keyed (bucket, subject key, leaf). Everything v1 wrote was
    indexed, so `indexed_size` starts at the tree size."""
    conn.execute(
        text(
            "INSERT INTO journal_principals (bucket, principal, ts, leaf) "  # noqa: S608 - constants
            f"SELECT idx >> {BUCKET_SHIFT}, principal, ts, idx FROM journal_leaves"
        )
    )
    conn.execute(text("DROP INDEX ix_journal_leaves_principal_ts"))
    for column in ("ts", "principal", "kind", "outcome"):
        conn.execute(text(f"ALTER TABLE journal_leaves DROP COLUMN {column}"))

    def fill(new: Table, old: str) -> None:  # keys computed in Python, paged by (subject, leaf)
        last: tuple[str, int] | None = None
        while True:
            q = f"SELECT subject, leaf FROM {old}"  # noqa: S608 - constants
            if last is not None:
                q += " WHERE subject > :s OR (subject = :s AND leaf > :l)"
            rows = conn.execute(
                text(q + " ORDER BY subject, leaf LIMIT 50000"),
                {} if last is None else {"s": last[0], "l": last[1]},
            ).all()
            if not rows:
                return
            conn.execute(
                new.insert(),
                [
                    {
                        "bucket": int(leaf) >> BUCKET_SHIFT,
                        "skey": subject_key(subj),
                        "leaf": int(leaf),
                    }
                    for subj, leaf in rows
                ],
            )
            last = (str(rows[-1][0]), int(rows[-1][1]))

    _rebuild(conn, subjects, 2, fill)
    _put(conn, meta, INDEXED_SIZE, str(log_size(conn)))  # v2-v4: here


def _get(conn: Connection, table: Table, key: str) -> str | None:
    return conn.execute(select(table.c.value).where(table.c.key == key)).scalar()


def _put(conn: Connection, table: Table, key: str, value: str) -> None:
    if not conn.execute(table.update().where(table.c.key == key).values(value=value)).rowcount:
        conn.execute(table.insert().values(key=key, value=value))


def log_size(conn: Connection) -> int:
    """How many entries the log holds (a connection to the log's database)."""
    top = fetch(conn, "SELECT max(idx) FROM journal_leaves")[0][0]
    return 0 if top is None else int(top) + 1


INDEXED_SIZE = "indexed_size"


def indexed_size(conn: Connection) -> int:
    """How far the investigation indexes reach (a connection to the index database)."""
    found = _get(conn, index_meta, INDEXED_SIZE)
    return 0 if found is None else int(found)


def set_indexed_size(conn: Connection, size: int) -> None:
    _put(conn, index_meta, INDEXED_SIZE, str(size))


def _upgrade_2_index_ranges(conn: Connection) -> None:
    """v2 -> v3: `journal_index_ranges` (create_all made it, empty: a version 2 writer
    indexed only at indexed_size). A version 2 writer would not skip the ranges a version 3
    writer records, so the version must move."""


def _rebuild(
    conn: Connection, table: Table, version: int, fill: Callable[[Table, str], None]
) -> None:
    """Replace `table` by its current definition, which `fill(new, old name)` fills,
    on the way to schema `version`. The new table is built beside the old one and renamed
    once the old one is gone: renaming the old one first would leave its primary key's
    name taken on PostgreSQL."""
    new = table.to_metadata(MetaData(), name=f"{table.name}_v{version}")
    new.drop(conn, checkfirst=True)
    new.create(conn)
    fill(new, table.name)
    conn.execute(text(f"DROP TABLE {table.name}"))
    conn.execute(text(f"ALTER TABLE {new.name} RENAME TO {table.name}"))


def _upgrade_3_small_buckets(conn: Connection) -> None:
    """v3 -> v4: principals gain a leading bucket, and subject buckets shrink from 2**18 to
    2**BUCKET_SHIFT entries: indexing a chunk dirtied a page per distinct principal and
    subject across the whole index (22.8 us an entry at 1M entries, and growing), now the
    newest bucket's few hundred pages (8.7 us, flat)."""

    def copy(new: Table, old: str) -> None:
        cols = [c.name for c in new.columns]  # the bucket first (SQL of constants only)
        conn.execute(
            text(
                f"INSERT INTO {new.name} ({', '.join(cols)}) "  # noqa: S608
                f"SELECT leaf >> {BUCKET_SHIFT}, {', '.join(cols[1:])} FROM {old}"
            )
        )

    _rebuild(conn, principals, 4, copy)
    _rebuild(conn, subjects, 4, copy)


def _upgrade_4_index_apart(conn: Connection, index_engine: Engine) -> None:
    """v4 -> v5: the indexes move to the index database (on SQLite, a file of its own) and
    indexed_size to `journal_index_meta`. The copy commits before the log's transaction
    drops the originals; an upgrade cut short between the two copies again on the next
    open, and one that lost the copy rebuilds the index from the log."""
    indexed = int(_get(conn, meta, INDEXED_SIZE) or 0)
    conn.execute(meta.delete().where(meta.c.key == INDEXED_SIZE))
    if index_engine is conn.engine:  # PostgreSQL: the tables stay where they are
        set_indexed_size(conn, indexed)
        return
    moved = [principals, subjects, containments, index_ranges]
    # about 7 s per million entries (measured at 300,000): say so, as the server waits
    log.warning(
        "journal schema upgrade: moving the indexes of %d entries to %s",
        indexed,
        index_engine.url.database,
    )
    with writing(index_engine, index=True) as ic:
        index_metadata.create_all(ic)
        for t in [*moved, index_meta]:
            ic.execute(t.delete())
        for t in moved:
            names = ", ".join(c.name for c in t.columns)
            for part in conn.execute(select(t)).partitions(50_000):
                insert_rows(ic, t.name, names, [tuple(r) for r in part])
        set_indexed_size(ic, indexed)
    log.warning("journal schema upgrade: indexes moved")
    for t in [*moved, index_meta]:
        conn.execute(text(f"DROP TABLE IF EXISTS {t.name}"))


def _upgrade_5_nodes_in_leaves(conn: Connection) -> None:
    """v5 -> v6: leaves carry the lower nodes they complete (`up`). The column is added
    empty (instant on both backends); the nodes of the leaves already written stay in
    journal_nodes, where readers find them by `up` being NULL."""
    conn.execute(
        text(
            "ALTER TABLE journal_leaves ADD COLUMN up "
            + ("BYTEA" if conn.dialect.name == "postgresql" else "BLOB")
        )
    )


# from_version -> step(log connection, index engine)
_UPGRADES: dict[int, Callable[[Connection, Engine], None]] = {
    1: lambda conn, _: _upgrade_1_indexes_apart(conn),
    2: lambda conn, _: _upgrade_2_index_ranges(conn),
    3: lambda conn, _: _upgrade_3_small_buckets(conn),
    4: _upgrade_4_index_apart,
    5: lambda conn, _: _upgrade_5_nodes_in_leaves(conn),
}


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
            event.listen(
                engine, "connect", lambda dbapi_conn, _record: _sqlite_connect(dbapi_conn, sync)
            )
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


def _sqlite_connect(dbapi_conn: Any, synchronous: str) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA synchronous={synchronous}")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


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


def _sqlite_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get("journal_writer", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def ensure_schema(engine: Engine, index_engine: Engine) -> None:
    """Create the journal tables if absent; check (and upgrade) the schema version; then
    the indexes' tables (`index_engine`, as `make_engines` gives it). An index that
    reaches beyond the log (a log restored from a backup older than its index) is emptied,
    to be rebuilt from the log."""
    try:
        with writing(engine) as conn:
            metadata.create_all(conn)
            found = _get(conn, meta, "schema_version")
            version = SCHEMA_VERSION if found is None else int(found)
            if version > SCHEMA_VERSION:
                raise BadRequest(
                    f"journal schema version {version} is newer than this "
                    f"software ({SCHEMA_VERSION})"
                )
            if version < 5:
                # the steps before 5 work on the indexes where they were, in the log's file
                index_metadata.create_all(conn)
            while version < SCHEMA_VERSION:
                _UPGRADES[version](conn, index_engine)
                version += 1
            _put(conn, meta, "schema_version", str(version))
            size = log_size(conn)
        with writing(index_engine, index=True) as conn:
            index_metadata.create_all(conn)
            reach = max(
                indexed_size(conn),
                int(conn.execute(select(func.max(index_ranges.c.hi))).scalar() or 0),
            )
            if reach > size:
                for t in index_metadata.sorted_tables:
                    conn.execute(t.delete())
    except SQLAlchemyError as exc:
        raise Unavailable(f"cannot prepare the journal database: {exc}") from exc
