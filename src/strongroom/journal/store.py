"""Storage reads and writes of the journal, on one SQLAlchemy connection each.

The Merkle algorithms (rfc6962.py) never touch storage; these functions fetch the node
hashes a `ProofPlan` names (leaves at level 0, stored perfect subtrees above) with O(log n)
primary-key lookups, and write one batch of entries with their completed nodes and side
index rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, text

from strongroom.journal import schema as s
from strongroom.journal.entry import IndexRows, Prepared, decode, index_rows
from strongroom.journal.rfc6962 import Frontier, NodeID, range_nodes

# One advisory lock key for every journal writer on a PostgreSQL database (any constant).
PG_LOCK_KEY = 0x5352_4A4E


def lock_writer(conn: Connection) -> None:
    """Serialize writers across processes (SQLite already holds BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})


def read_size(conn: Connection) -> int:
    top = conn.exec_driver_sql("SELECT max(idx) FROM journal_leaves").scalar()
    return 0 if top is None else int(top) + 1


def _marks(conn: Connection, n: int) -> str:
    """n positional parameter markers in the driver's own style (qmark or format)."""
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)


# In both builders identifiers are this module's constants, never input; values travel as
# parameters.
def _in_sql(conn: Connection, select_from: str, column: str, n: int) -> str:
    return f"SELECT {select_from} WHERE {column} IN ({_marks(conn, n)})"  # noqa: S608


def read_nodes(conn: Connection, ids: Iterable[NodeID]) -> dict[NodeID, bytes]:
    """The stored hashes of `ids`, by primary key. Driver-level queries: a proof is a few
    dozen keys, and building SQLAlchemy statements cost more than the lookups."""
    wanted = list(ids)
    out: dict[NodeID, bytes] = {}
    leaf_ids = [i for lvl, i in wanted if lvl == 0]
    upper = [s.nid(lvl, i) for lvl, i in wanted if lvl > 0]
    if leaf_ids:
        rows = conn.exec_driver_sql(_in_sql(conn, "idx, leaf_hash FROM journal_leaves", "idx",
                                            len(leaf_ids)), tuple(leaf_ids))
        out.update({(0, int(i)): bytes(h) for i, h in rows})
    if upper:
        rows = conn.exec_driver_sql(_in_sql(conn, "nid, hash FROM journal_nodes", "nid",
                                            len(upper)), tuple(upper))
        mask = (1 << s.NID_SHIFT) - 1
        out.update({(int(k) >> s.NID_SHIFT, int(k) & mask): bytes(h) for k, h in rows})
    return out


def load_frontier(conn: Connection, size: int) -> Frontier:
    ids = range_nodes(0, size)
    found = read_nodes(conn, ids)
    missing = [nid for nid in ids if nid not in found]
    if missing:
        raise LookupError(f"journal storage lacks nodes {missing}: run verify")
    return Frontier(size, [found[nid] for nid in ids])


def _insert_sql(conn: Connection, table: str, columns: str) -> str:
    marks = _marks(conn, columns.count(",") + 1)
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608


def write_batch(conn: Connection, start: int, batch: Sequence[Prepared],
                made: Sequence[tuple[int, int, bytes]]) -> None:
    """Insert a batch of leaves and the nodes they complete, with the driver's executemany
    on plain tuples: the journal's hot path, where building SQLAlchemy parameter dicts per
    row would cost more than SQLite does."""
    if not batch:
        return
    run = conn.exec_driver_sql
    run(_insert_sql(conn, "journal_leaves", "idx, leaf_hash, entry"),
        [(start + n, p.leaf_hash, p.entry) for n, p in enumerate(batch)])
    if made:
        run(_insert_sql(conn, "journal_nodes", "nid, hash"),
            [((lvl << s.NID_SHIFT) | i, h) for lvl, i, h in made])


def read_entries(conn: Connection, start: int, end: int) -> list[tuple[int, dict[str, Any]]]:
    """Entries [start, end) decoded, in order."""
    t = s.leaves
    rows = conn.execute(select(t.c.idx, t.c.entry).where(t.c.idx >= start, t.c.idx < end)
                        .order_by(t.c.idx)).all()
    return [(int(i), decode(bytes(data))) for i, data in rows]


def index_range(conn: Connection, limit: int,
                known: Sequence[tuple[int, IndexRows]] = ()) -> int:
    """Index up to `limit` entries past `indexed_size` (call under the writer lock, in one
    transaction); return how many were indexed. `known` holds consecutive (index, rows)
    the caller already has; entries outside it are read back from the log."""
    start = s.indexed_size(conn)
    first = known[0][0] if known else -1
    if first <= start < first + len(known):
        found = list(known[start - first:start - first + limit])
    else:
        found = [(idx, index_rows(e)) for idx, e in read_entries(conn, start, start + limit)]
    if not found:
        return 0
    principals, subjects, contained = [], [], []
    for idx, rows in found:
        principals.append((rows.principal, rows.ts, idx))
        subjects.extend((idx >> s.SUBJECT_BUCKET_SHIFT, key, idx)
                        for key in {s.subject_key(x): None for x in rows.subjects})
        if rows.contained:
            contained.append((rows.contained, idx, rows.ts))
    run = conn.exec_driver_sql
    run(_insert_sql(conn, "journal_principals", "principal, ts, leaf"), principals)
    if subjects:
        run(_insert_sql(conn, "journal_subjects", "bucket, skey, leaf"), subjects)
    if contained:
        run(_insert_sql(conn, "journal_containments", "target, leaf, ts"), contained)
    s.set_indexed_size(conn, found[-1][0] + 1)
    return len(found)


def latest_checkpoint_row(conn: Connection) -> Any:
    return conn.execute(select(s.checkpoints).order_by(s.checkpoints.c.seq.desc())
                        .limit(1)).first()


def insert_checkpoint(conn: Connection, seq: int, size: int, root: bytes, note: str,
                      created: float) -> None:
    conn.execute(insert(s.checkpoints).values(seq=seq, size=size, root=root, note=note,
                                              created=created))
