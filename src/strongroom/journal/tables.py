"""The journal's tables and the layout constants their keys depend on (schema version 1).

The log (`metadata`):
- `journal_leaves`: the entries in order, each with its leaf hash and, in `up`, the hashes
  of the perfect subtrees of levels 1 to LEAF_LEVELS that it completes. Leaf i completes
  one subtree per trailing zero bit of i + 1, so every such node is stored once, in the
  row of its last leaf, and an append writes one row an entry.
- `journal_nodes`: the perfect subtrees above LEAF_LEVELS (one leaf in 2**LEAF_LEVELS
  completes one), keyed by `nid`. The table is small enough to stay in cache, where a
  proof reads most of its nodes.
- `journal_checkpoints`: the signed notes.
- `journal_meta`: `schema_version`.
Leaves and nodes grow at their ends only, so a group commit dirties a handful of pages.

The investigation indexes (`index_metadata`; on SQLite a file of their own, `engines`
says why), derived from the entries and written behind the log (`store.index_known`):
- `journal_principals` (bucket, principal, ts, leaf) and `journal_subjects` (bucket,
  subject key, leaf). Both lead with bucket = leaf >> BUCKET_SHIFT, so an indexing chunk
  inserts into the newest bucket's few hundred pages, which stay in cache and are written
  once per chunk whatever the journal's size; a lookup costs one seek per bucket (611 at
  10 million entries).
- `journal_containments` (target, leaf, ts).
- `journal_alerts` (leaf, ts, principal, reason, detector): the detectors' entries and the
  security events, the console's alerts (activity.py).
- `journal_activity` (hour, level, name): records and distinct subjects disclosed per hour
  by the whole service (level 0), a role (1), a principal (2, with its role), and the sum
  over a role's principals with their count (3), the console's hourly curves;
  `journal_activity_subjects` (hour, skey, principal, role) says which subjects an hour
  has counted already, kept for ACTIVITY_KEEP_SECONDS only.
- `journal_activity_daily` and `journal_activity_daily_subjects`: the same per UTC day
  (distinct subjects of a day cannot be summed from its hours), the daily curves.
- `journal_index_ranges`: runs indexed above indexed_size (`store.index_known`).
- `journal_index_meta`: `indexed_size`, how far the indexes reach without a gap.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

# The layout below. A change to it changes the version: `schema.ensure_schema` opens only a
# database of this version (or an empty one).
SCHEMA_VERSION = 1
# journal_meta and journal_index_meta keys
SCHEMA_VERSION_KEY = "schema_version"
INDEXED_SIZE_KEY = "indexed_size"
# The indexes' own layout (journal_index_meta): they are derived from the log, so an index
# database of another layout is emptied and rebuilt (`schema.ensure_schema`), never
# refused. 1 (no key): the investigation indexes; 2: with alerts and hourly activity; 3:
# with daily activity.
INDEX_VERSION = 3
INDEX_VERSION_KEY = "index_version"

# Integer primary keys: on SQLite only INTEGER PRIMARY KEY is the rowid itself.
BigInt = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()  # the log
index_metadata = MetaData()  # the investigation indexes (their own file on SQLite)

# Nodes of levels 1 to LEAF_LEVELS live in the row of the leaf that completes them, those
# above in journal_nodes. One integer key per node there, nid = level << NID_SHIFT | index:
# each level is one contiguous key range.
LEAF_LEVELS = 7
NID_SHIFT = 56


def nid(level: int, index: int) -> int:
    return (level << NID_SHIFT) | index


# Both investigation indexes lead with bucket = leaf >> BUCKET_SHIFT (16,384 entries).
BUCKET_SHIFT = 14


def buckets_below(size: int) -> list[int]:
    """The buckets that entries [0, size) fall in."""
    return list(range(((size - 1) >> BUCKET_SHIFT) + 1))


_blake2b_64 = functools.partial(hashlib.blake2b, digest_size=8)


def subject_key(subject: str) -> int:
    """A stable 63-bit key for a subject ID (fits a signed BIGINT everywhere). Readers check
    the entry itself, so a collision can only cost a read, never a wrong answer."""
    return int.from_bytes(_blake2b_64(subject.encode()).digest()) >> 1


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
    # (rfc6962.completed; b"" for none). Before the entry, so reading it never walks an
    # entry's overflow pages on SQLite.
    Column("up", LargeBinary, nullable=False),
    Column("entry", LargeBinary, nullable=False),
)

nodes = Table(
    "journal_nodes",
    metadata,
    Column("nid", BigInt, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
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

principals = Table(
    "journal_principals",
    index_metadata,
    Column("bucket", BigInt, primary_key=True, autoincrement=False),
    Column("principal", String(128), primary_key=True),
    Column("ts", Float, primary_key=True),
    Column("leaf", BigInt, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

subjects = Table(
    "journal_subjects",
    index_metadata,
    Column("bucket", BigInt, primary_key=True, autoincrement=False),
    Column("skey", BigInt, primary_key=True, autoincrement=False),
    Column("leaf", BigInt, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

containments = Table(
    "journal_containments",
    index_metadata,
    Column("target", String(128), primary_key=True),
    Column("leaf", BigInt, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False),
    sqlite_with_rowid=False,
)

alerts = Table(
    "journal_alerts",
    index_metadata,
    Column("leaf", BigInt, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False),
    Column("principal", String(128), nullable=False),
    Column("reason", String(128), nullable=True),
    # 1: the detectors' (endpoint "detect"); 0: a security event, an alert if its reason
    # is one the reader asks for
    Column("detector", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# Levels of journal_activity rows.
ALL, ROLE, PRINCIPAL, PEERS = 0, 1, 2, 3
HOUR = 3600
# Hours whose subjects are older than this (by the entries' own time) are forgotten: an
# entry that late would count its subjects again.
ACTIVITY_KEEP_SECONDS = 2 * 86_400


def _activity_tables(name: str, column: str) -> tuple[Table, Table]:
    """The counts of one granularity (`column`: its bucket's start) and the subjects each
    bucket has counted already."""
    counts = Table(
        name,
        index_metadata,
        Column(column, BigInt, primary_key=True, autoincrement=False),
        Column("level", Integer, primary_key=True, autoincrement=False),
        Column("name", String(128), primary_key=True),  # "" / the role / the principal
        Column("role", String(64), nullable=False),  # a principal's (its first entry's)
        Column("records", BigInt, nullable=False),
        Column("subjects", BigInt, nullable=False),
        Column("principals", BigInt, nullable=False),  # level PEERS: how many principals
        sqlite_with_rowid=False,
    )
    seen = Table(
        f"{name}_subjects",
        index_metadata,
        Column(column, BigInt, primary_key=True, autoincrement=False),
        Column("skey", BigInt, primary_key=True, autoincrement=False),
        Column("principal", String(128), primary_key=True),
        Column("role", String(64), primary_key=True),
        sqlite_with_rowid=False,
    )
    return counts, seen


DAY = 86_400
activity, activity_subjects = _activity_tables("journal_activity", "hour")
activity_daily, activity_daily_subjects = _activity_tables("journal_activity_daily", "day")


@dataclass(frozen=True)
class Span:
    """One granularity of the activity counts: its bucket's length, the counts' table,
    the table of subjects each bucket counted, and the name of their bucket column."""

    seconds: int
    counts: Table
    subjects: Table
    column: str


HOURLY = Span(HOUR, activity, activity_subjects, "hour")
DAILY = Span(DAY, activity_daily, activity_daily_subjects, "day")
SPANS = (HOURLY, DAILY)

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
