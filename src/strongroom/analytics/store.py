"""Where a release is written: schema `analytics` of the registry's PostgreSQL database, or
`analytics.db` beside the embedded registry.

PostgreSQL: one transaction replaces every view's table and writes the ledger, so readers
see the previous release until the commit and the next at once, and a release is never
published without its ledger (its suppressions must bind the next one). Tables are
dropped and created again (a policy edit may change their columns); the analyst role
keeps its SELECT through the schema's default privileges (`grants.py`).

SQLite: the release is written to a temporary file beside analytics.db and renamed over
it once the ledger is committed in the registry database; a reader holding the old file
keeps reading the old release. The file holds nothing but the views: it can be copied to
an analyst's machine as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    text,
)

from strongroom.errors import Conflict

SCHEMA = "analytics"
RELEASE_TABLE = "release_info"
INSERT_BATCH = 5000
# pg_try_advisory_lock key: one analytics build at a time per database.
LOCK_KEY = zlib.crc32(b"strongroom/analytics/build")


@dataclass
class ViewTable:
    name: str
    description: str
    kind: str  # counts | rows
    columns: list[str]
    # counts: (*values, n or None, suppressed); rows: (pseudonym, *values)
    rows: Iterable[tuple[Any, ...]]


@dataclass(frozen=True)
class ReleaseRow:
    release: int
    built_at: str  # ISO 8601, UTC
    k: int
    generalizations: str


def _table(meta: MetaData, view: ViewTable) -> Table:
    cols: list[Column[Any]]
    if view.kind == "rows":
        cols = [Column("pseudonym", String(32), primary_key=True)]
        cols += [Column(c, Text, nullable=False) for c in view.columns]
    else:
        cols = [Column(c, Text, nullable=False) for c in view.columns]
        cols += [Column("n", BigInteger, nullable=True), Column("suppressed", Boolean)]
    return Table(view.name, meta, *cols, comment=view.description)


def _release_table(meta: MetaData) -> Table:
    return Table(
        RELEASE_TABLE,
        meta,
        Column("release", Integer, nullable=False),
        Column("built_at", Text, nullable=False),
        Column("k", Integer, nullable=False),
        Column("generalizations", Text, nullable=False),
        comment="The release these views belong to; cells counting fewer than k persons "
        "are suppressed (n is null, suppressed is true), with complements.",
    )


def _insert(conn: Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> int:
    names = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        return _copy(conn, f'{SCHEMA}."{table.name}"', names, rows)
    done = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(zip(names, row, strict=True)))
        if len(batch) >= INSERT_BATCH:
            conn.execute(insert(table), batch)
            done += len(batch)
            batch = []
    if batch:
        conn.execute(insert(table), batch)
        done += len(batch)
    return done


def _copy(conn: Connection, target: str, names: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    # COPY: a row view holds a row per person, and executemany would spend most of a
    # build's time on round trips.
    raw: Any = conn.connection.driver_connection
    cols = ", ".join(f'"{n}"' for n in names)
    done = 0
    with raw.cursor() as cur, cur.copy(f"COPY {target} ({cols}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            done += 1
    return done


def _write(
    conn: Connection, meta: MetaData, views: list[ViewTable], release: ReleaseRow
) -> dict[str, int]:
    written: dict[str, int] = {}
    for view in views:
        table = _table(meta, view)
        table.drop(conn, checkfirst=True)
        table.create(conn)
        if view.kind == "rows":
            written[view.name] = _insert_sorted(conn, table, view.rows)
        else:
            written[view.name] = _insert(conn, table, view.rows)
    info = _release_table(meta)
    info.drop(conn, checkfirst=True)
    info.create(conn)
    conn.execute(
        insert(info).values(
            release=release.release,
            built_at=release.built_at,
            k=release.k,
            generalizations=release.generalizations,
        )
    )
    return written


def _insert_sorted(conn: Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> int:
    """Rows in pseudonym order (the registry's order, registration order, is information
    of its own), sorted by the database: a row view has a row per person, too many to sort
    in this process's memory at a national registry's size."""
    names = [c.name for c in table.columns]
    cols = ", ".join(f'"{n}" text' for n in names)
    listed = ", ".join(f'"{n}"' for n in names)
    stage = f"stage_{table.name}"
    if conn.dialect.name == "postgresql":
        conn.execute(text(f'CREATE TEMPORARY TABLE "{stage}" ({cols}) ON COMMIT DROP'))
        done = _copy(conn, f'"{stage}"', names, rows)
        target = f'{SCHEMA}."{table.name}"'
        from_stage = f'"{stage}"'
    else:
        conn.execute(text(f'CREATE TEMPORARY TABLE "{stage}" ({cols})'))
        staging = Table(stage, MetaData(), *(Column(n, Text) for n in names), schema="temp")
        done = _insert(conn, staging, rows)
        target, from_stage = f'"{table.name}"', f'temp."{stage}"'
    # Names only from the policy's checked view names and the fixed column vocabulary.
    sort = f"INSERT INTO {target} ({listed}) SELECT {listed} FROM {from_stage} ORDER BY 1"  # noqa: S608
    conn.execute(text(sort))
    conn.execute(text(f"DROP TABLE {from_stage}"))
    return done


def publish_postgresql(
    engine: Engine,
    views: list[ViewTable],
    release: ReleaseRow,
    save_ledger: Callable[[Connection], None],
) -> dict[str, int]:
    with engine.begin() as conn:
        # A long analyst query holds a lock on a view's table: wait for it, not forever.
        conn.execute(text("SET LOCAL lock_timeout = '60s'"))
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        meta = MetaData(schema=SCHEMA)
        written = _write(conn, meta, views, release)
        keep = {v.name for v in views} | {RELEASE_TABLE}
        for name in inspect(conn).get_table_names(schema=SCHEMA):
            if name not in keep:  # a view the policy no longer declares
                conn.execute(text(f'DROP TABLE {SCHEMA}."{name}"'))
        save_ledger(conn)
    return written


def publish_sqlite(
    path: Path,
    registry: Engine,
    views: list[ViewTable],
    release: ReleaseRow,
    save_ledger: Callable[[Connection], None],
) -> dict[str, int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".analytics-", suffix=".db", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        out = create_engine(f"sqlite:///{tmp}")
        try:
            with out.begin() as conn:
                written = _write(conn, MetaData(), views, release)
        finally:
            out.dispose()
        with registry.begin() as conn:
            save_ledger(conn)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return written


@contextlib.contextmanager
def build_lock(engine: Engine, lock_file: Path) -> Iterator[None]:
    """One build at a time: two concurrent builds would publish two different
    suppression patterns of the same data, which is what the ledger exists to prevent."""
    busy = Conflict("another analytics build is running; try again when it ends")
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            conn.commit()
            if not got:
                raise busy
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                conn.commit()
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
