"""Storage reads and writes of the journal, on one SQLAlchemy connection each.

The Merkle algorithms (rfc6962.py) never touch storage; these functions fetch the node
hashes a `ProofPlan` names (leaves at level 0, stored perfect subtrees above) with O(log n)
primary-key lookups, write one batch of entries with their completed nodes, and write the
investigation indexes' rows.

The indexes are derived from the entries and written apart, behind the log, in large
chunks: indexing inside the append would cost several times the entry's own write, as
every entry of a batch would dirty its own random index page. Each writer indexes the
entries it appended, from the rows it prepared (`index_known`); with several writer
processes one may index its entries above another's that are not indexed yet, and
`journal_index_ranges` records those runs until indexed_size reaches them. Entries nobody
indexed (their writer stopped) are read back from the log (`index_gap`). Readers take the
index below indexed_size and read the few entries above it directly, so an answer is
always complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Row, Table, func, insert, select

from strongroom.journal import tables
from strongroom.journal.driver_sql import fetch, in_sql, insert_rows, marks, run, upsert_add
from strongroom.journal.entry import IndexRows, Prepared, decode, index_rows
from strongroom.journal.rfc6962 import (
    HASH_SIZE,
    Frontier,
    NodeID,
    completed,
    completing_leaf,
    range_nodes,
    up_hash,
)


def read_meta(conn: Connection, table: Table, key: str) -> str | None:
    """The value of `key` in a key-value table (journal_meta, journal_index_meta)."""
    found = conn.execute(select(table.c.value).where(table.c.key == key)).scalar()
    return None if found is None else str(found)


def write_meta(conn: Connection, table: Table, key: str, value: str) -> None:
    if not conn.execute(table.update().where(table.c.key == key).values(value=value)).rowcount:
        conn.execute(table.insert().values(key=key, value=value))


def log_size(conn: Connection) -> int:
    """How many entries the log holds (a connection to the log's database)."""
    top = fetch(conn, "SELECT max(idx) FROM journal_leaves")[0][0]
    return 0 if top is None else int(top) + 1


def indexed_size(conn: Connection) -> int:
    """How far the investigation indexes reach (a connection to the index database)."""
    found = read_meta(conn, tables.index_meta, tables.INDEXED_SIZE_KEY)
    return 0 if found is None else int(found)


def set_indexed_size(conn: Connection, size: int) -> None:
    write_meta(conn, tables.index_meta, tables.INDEXED_SIZE_KEY, str(size))


def read_nodes(conn: Connection, ids: Iterable[NodeID]) -> dict[NodeID, bytes]:
    """The stored hashes of `ids`, by primary key: a leaf's from its row, a lower node's
    from the row of the leaf that completed it, an upper one's from journal_nodes.
    Driver-level queries: a proof is a few dozen keys, and building SQLAlchemy statements
    would cost more than the lookups."""
    wanted = list(ids)
    low = tables.LEAF_LEVELS
    rows = {i if lvl == 0 else completing_leaf(lvl, i) for lvl, i in wanted if lvl <= low}
    found = (
        {
            int(i): (bytes(lh), bytes(up))
            for i, lh, up in fetch(
                conn,
                in_sql(conn, "idx, leaf_hash, up FROM journal_leaves", "idx", len(rows)),
                tuple(rows),
            )
        }
        if rows
        else {}
    )
    out: dict[NodeID, bytes] = {}
    tabled: list[int] = []
    for lvl, i in wanted:
        if lvl > low:
            tabled.append(tables.nid(lvl, i))
            continue
        row = found.get(i if lvl == 0 else completing_leaf(lvl, i))
        if row is None:
            continue
        if lvl == 0:
            out[(0, i)] = row[0]
        elif h := up_hash(row[1], lvl):
            out[(lvl, i)] = h
    if tabled:
        shift = tables.NID_SHIFT
        mask = (1 << shift) - 1
        out.update(
            {
                (int(k) >> shift, int(k) & mask): bytes(h)
                for k, h in fetch(
                    conn,
                    in_sql(conn, "nid, hash FROM journal_nodes", "nid", len(tabled)),
                    tuple(tabled),
                )
            }
        )
    return out


def load_frontier(conn: Connection, size: int) -> Frontier:
    ids = range_nodes(0, size)
    found = read_nodes(conn, ids)
    missing = [nid for nid in ids if nid not in found]
    if missing:
        raise LookupError(f"journal storage lacks nodes {missing}: run verify")
    return Frontier(size, [found[nid] for nid in ids])


def kept_in_row(up: bytes) -> bytes:
    """Of the hashes a leaf completes (`Frontier.extend`), those its row keeps: levels 1 to
    LEAF_LEVELS."""
    return up[: HASH_SIZE * tables.LEAF_LEVELS]


def upper_nodes(leaf: int, up: bytes) -> list[tuple[int, int, bytes]]:
    """Of the subtrees a leaf completes, those journal_nodes keeps: above LEAF_LEVELS."""
    if len(up) <= HASH_SIZE * tables.LEAF_LEVELS:  # all but one leaf in 2**LEAF_LEVELS
        return []
    return completed(leaf, up)[tables.LEAF_LEVELS :]


def write_batch(
    conn: Connection, start: int, batch: Sequence[Prepared], ups: Sequence[bytes]
) -> None:
    """Insert a batch of leaves, each with the lower nodes it completes (of
    `Frontier.extend`'s answer), and the upper ones into journal_nodes, as plain tuples in
    multi-row INSERTs: the journal's hot path, where building SQLAlchemy parameter dicts
    per row would cost more than SQLite does."""
    if not batch:
        return
    insert_rows(
        conn,
        "journal_leaves",
        "idx, leaf_hash, entry, up",
        [
            (start + n, p.leaf_hash, p.entry, kept_in_row(up))
            for n, (p, up) in enumerate(zip(batch, ups, strict=True))
        ],
    )
    upper = sorted(
        (tables.nid(lvl, i), h)
        for n, up in enumerate(ups)
        for lvl, i, h in upper_nodes(start + n, up)
    )
    insert_rows(conn, "journal_nodes", "nid, hash", upper)


def read_entries(conn: Connection, start: int, end: int) -> list[tuple[int, dict[str, Any]]]:
    """Entries [start, end) decoded, in order."""
    t = tables.leaves
    rows = conn.execute(
        select(t.c.idx, t.c.entry).where(t.c.idx >= start, t.c.idx < end).order_by(t.c.idx)
    ).all()
    return [(int(i), decode(bytes(data))) for i, data in rows]


_second = itemgetter(1)


def _insert_index_rows(conn: Connection, found: Sequence[tuple[int, IndexRows]]) -> None:
    principals, subjects, contained = [], [], []
    shift = tables.BUCKET_SHIFT
    for idx, rows in found:
        bucket = idx >> shift
        principals.append((bucket, rows.principal, rows.ts, idx))
        keys = rows.keys
        if len(keys) == 1:
            subjects.append((bucket, keys[0], idx))
        else:
            subjects.extend(zip(repeat(bucket), keys, repeat(idx)))
        if rows.contained:
            contained.append((rows.contained, idx, rows.ts))
    # In key order, each B-tree page is visited once per chunk rather than once per row. A
    # chunk spans one or two buckets, so sorting by principal or subject key alone keeps
    # that locality; the sort is stable, so equal keys stay in leaf order; and a sort on
    # one column costs a third of a sort on whole tuples, which compare their equal
    # buckets first (docs/journal-design.md has the figures).
    principals.sort(key=_second)
    subjects.sort(key=_second)
    insert_rows(conn, "journal_principals", "bucket, principal, ts, leaf", principals)
    insert_rows(conn, "journal_subjects", "bucket, skey, leaf", subjects)
    insert_rows(conn, "journal_containments", "target, leaf, ts", contained)
    insert_rows(
        conn,
        "journal_alerts",
        "leaf, ts, principal, reason, detector",
        [
            (idx, rows.ts, rows.principal, rows.alert[1], int(rows.alert[0]))
            for idx, rows in found
            if rows.alert is not None
        ],
    )
    revealing = [rows for _, rows in found if rows.revealing]
    for span in tables.SPANS:
        _count_activity(conn, revealing, span)


# Distinct (hour, skey) pairs looked up per query of what an hour has counted already.
_LOOKUP = 500


def _saw(known: dict[int, Any], skey: int, pair: tuple[str, str]) -> None:
    """Record that `pair` (principal, role) counted `skey`: one pair, or a list of them."""
    had = known.get(skey)
    if had is None:
        known[skey] = pair
    elif isinstance(had, list):
        had.append(pair)
    else:
        known[skey] = [had, pair]


def _count_activity(conn: Connection, found: Sequence[IndexRows], span: tables.Span) -> None:
    """Add entries that disclosed data to the span's counts (journal_activity per hour,
    journal_activity_daily per day): records, and the subjects no earlier entry of the
    bucket counted at each level (looked up in the span's subjects table, where the new
    ones are then recorded). Counting adds, so entries indexed in any order, by any
    writer, give the same counts; each entry is indexed once (index_known, index_gap).
    Subjects are counted by their 63-bit key, like journal_subjects: two subjects of one
    bucket would have to collide to be counted as one."""
    if not found:
        return
    hour_of = span.seconds
    column, counted, seen_in = span.column, span.counts.name, span.subjects.name
    hours_of = [int(rows.ts // hour_of * hour_of) for rows in found]
    wanted: dict[int, set[int]] = {}
    for hour, rows in zip(hours_of, found, strict=True):
        wanted.setdefault(hour, set()).update(rows.keys)
    # hour -> skey -> the (principal, role) pair that counted it, or a list of those
    seen: dict[int, dict[int, Any]] = {hour: {} for hour in wanted}
    for hour, keys in wanted.items():
        ordered = sorted(keys)
        known = seen[hour]
        for k in range(0, len(ordered), _LOOKUP):
            part = ordered[k : k + _LOOKUP]
            sql = in_sql(
                conn,
                f"skey, principal, role FROM {seen_in}",
                f"{column} = {hour} AND skey",  # our names and an int of our own making
                len(part),
            )
            for skey, principal, role in fetch(conn, sql, part):
                _saw(known, int(skey), (str(principal), str(role)))
    # Per (hour, principal, role): [records, subjects new to the principal, to the role,
    # to the service]. The loop runs once per subject of every entry indexed: the common
    # case (the hour's first sight of a subject) is kept to a dict probe and an append.
    mine: dict[tuple[int, str, str], list[int]] = {}
    new_rows: list[tuple[int, int, str, str]] = []
    for hour, rows in zip(hours_of, found, strict=True):
        who, role = rows.principal, rows.role
        pair = (who, role)
        slot = mine.get((hour, who, role))
        if slot is None:
            slot = mine[(hour, who, role)] = [0, 0, 0, 0]
        slot[0] += rows.records
        known = seen[hour]
        fresh = 0
        for skey in rows.keys:
            had = known.get(skey)
            if had is None:
                known[skey] = pair
                fresh += 1
            else:
                pairs = had if isinstance(had, list) else [had]
                if pair in pairs:
                    continue
                slot[2] += all(r != role for _, r in pairs)
                slot[1] += all(p != who for p, _ in pairs)
                _saw(known, skey, pair)
            new_rows.append((hour, skey, who, role))
        if fresh:
            slot[1] += fresh
            slot[2] += fresh
            slot[3] += fresh
    # (hour, level, name) -> [role, records, new subjects]
    counts: dict[tuple[int, int, str], list[Any]] = {}
    for (hour, who, role), (records, to_principal, to_role, to_all) in mine.items():
        for key, new in (
            ((hour, tables.ALL, ""), to_all),
            ((hour, tables.ROLE, role), to_role),
            ((hour, tables.PRINCIPAL, who), to_principal),
        ):
            slot = counts.setdefault(key, [role, 0, 0])
            slot[1] += records
            slot[2] += new
    new_rows.sort(key=_second)  # B-tree locality: see _insert_index_rows
    insert_rows(conn, seen_in, f"{column}, skey, principal, role", new_rows)
    upsert_add(
        conn,
        counted,
        (column, "level", "name", "role", "records", "subjects", "principals"),
        (column, "level", "name"),
        ("records", "subjects"),
        sorted((h, lvl, name, v[0], v[1], v[2], 0) for (h, lvl, name), v in counts.items()),
    )
    # The sums over each role's principals (the curves' peers), recomputed for the hours
    # touched: a principal's row keeps the role of its first entry of the hour.
    hours = sorted(wanted)
    # Levels are our constants, the hours parameters.
    sql = (
        f"INSERT INTO {counted}"  # noqa: S608
        f" ({column}, level, name, role, records, subjects, principals)"
        f" SELECT {column}, {tables.PEERS}, role, role, sum(records), sum(subjects), count(*)"
        f" FROM {counted} WHERE level = {tables.PRINCIPAL}"
        f" AND {column} IN ({marks(conn, len(hours))})"
        f" GROUP BY {column}, role ON CONFLICT ({column}, level, name) DO UPDATE SET"
        " records = excluded.records, subjects = excluded.subjects,"
        " principals = excluded.principals"
    )
    run(conn, sql, hours)


def prune_activity(conn: Connection, span: tables.Span = tables.HOURLY) -> int:
    """Forget the subjects counted in the span's oldest bucket (an hour, a day) if it is
    ACTIVITY_KEEP_SECONDS older than the newest (one bucket a call, so the writer lock is
    held briefly); return the rows deleted. Its counts stay."""
    t = span.subjects
    bucket = t.c[span.column]
    # Two statements: SQLite seeks the ends of the key for min() or max() alone, but scans
    # the whole table for both in one.
    lo = conn.execute(select(func.min(bucket))).scalar()
    hi = conn.execute(select(func.max(bucket))).scalar()
    if lo is None or hi is None or int(lo) >= int(hi) - tables.ACTIVITY_KEEP_SECONDS:
        return 0
    return int(conn.execute(t.delete().where(bucket == lo)).rowcount)


def _runs(idxs: Sequence[int]) -> list[tuple[int, int]]:
    """Ascending indexes as [lo, hi) runs of consecutive ones."""
    out: list[tuple[int, int]] = []
    for i in idxs:
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def _index_ranges(conn: Connection) -> list[tuple[int, int]]:
    return [
        (int(lo), int(hi))
        for lo, hi in conn.exec_driver_sql("SELECT lo, hi FROM journal_index_ranges ORDER BY lo")
    ]


def _advance(conn: Connection, indexed: int, ranges: list[tuple[int, int]]) -> int:
    """Set indexed_size to `indexed`, moved over the recorded ranges that now join it
    (`ranges` ascending), and return it; _advance merges every range it reaches, so none
    ever starts at indexed_size."""
    start = indexed
    for lo, hi in ranges:
        if lo != indexed:
            break
        indexed = hi
    if indexed != start:
        conn.execute(tables.index_ranges.delete().where(tables.index_ranges.c.lo < indexed))
    set_indexed_size(conn, indexed)
    return indexed


def index_known(conn: Connection, known: Sequence[tuple[int, IndexRows]]) -> tuple[int, int]:
    """Index entries whose rows the caller holds: its own appends, ascending, perhaps with
    other writers' entries in between (call under the indexes' writer lock, in one
    transaction).
    Entries already indexed (below indexed_size, or in a recorded range) are skipped. The
    rest are indexed and their runs recorded in `journal_index_ranges` until indexed_size
    reaches them, so several writers each index what they wrote without reading back the
    others' entries. Returns how many were indexed, and indexed_size after."""
    indexed = indexed_size(conn)
    ranges = _index_ranges(conn)
    todo = [
        (i, r)
        for i, r in known
        if i >= indexed and not (ranges and any(lo <= i < hi for lo, hi in ranges))
    ]
    if not todo:
        return 0, indexed
    _insert_index_rows(conn, todo)
    runs = _runs([i for i, _ in todo])
    insert_rows(conn, "journal_index_ranges", "lo, hi", runs)
    return len(todo), _advance(conn, indexed, sorted(ranges + runs))


def index_gap(conn: Connection, log: Connection, limit: int) -> tuple[int, int]:
    """Index up to `limit` entries from indexed_size on, up to the next recorded range, by
    reading them back from the log (`log`, a connection to it): entries whose writer never
    indexed them (it stopped, or it is another process and this writer is idle). Returns
    how many were indexed, and indexed_size after."""
    indexed = indexed_size(conn)
    ranges = _index_ranges(conn)
    stop = min([lo for lo, _ in ranges] + [indexed + limit])
    found = [(idx, index_rows(e)) for idx, e in read_entries(log, indexed, stop)]
    if not found:
        return 0, indexed  # indexed_size is the log's size (no range starts at it)
    _insert_index_rows(conn, found)
    return len(found), _advance(conn, found[-1][0] + 1, ranges)


def latest_checkpoint_row(conn: Connection) -> Row[Any] | None:
    t = tables.checkpoints
    return conn.execute(select(t).order_by(t.c.seq.desc()).limit(1)).first()


def insert_checkpoint(
    conn: Connection, seq: int, size: int, root: bytes, note: str, created: float
) -> None:
    conn.execute(
        insert(tables.checkpoints).values(seq=seq, size=size, root=root, note=note, created=created)
    )
