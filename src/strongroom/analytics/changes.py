"""What an incremental refresh starts from, in the registry database (never in the
analytics schema or file analysts read).

`analytics_changes` is the registry's change log: triggers on the registry's tables
(migration 0015) append the internal ID of every person a written row concerns, and a
row without a person for writes no person stands for (a dealer's département, a honey
mark). A refresh reads the rows its snapshot sees and deletes exactly those in the same
snapshot, so a change committed meanwhile waits for the next refresh.
`analytics_people` holds each counted person's contribution to the last release, sealed
(`sealed.py`), and the keyed week of their next age-band change.
`analytics_tallies` holds the last release's counts (sealed), and a `pending` row while a
release's contributions are written but the release not yet published: a refresh that
finds it counts everything again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    LargeBinary,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)

from strongroom.analytics.ledger import metadata
from strongroom.registry.models import Pk

COUNTS, PENDING = "counts", "pending"
WRITE_BATCH = 2000
# Per statement: Connection.execution_options would stream every later statement too.
STREAM = {"stream_results": True, "yield_per": 20_000}

changes = Table(
    "analytics_changes",
    metadata,
    Column("seq", Pk, primary_key=True, autoincrement=True),
    Column("person_id", Pk, nullable=True),
    Column("source", String(20), nullable=False),
)

people = Table(
    "analytics_people",
    metadata,
    Column("person_id", Pk, primary_key=True, autoincrement=False),
    Column("recheck", LargeBinary(16), nullable=True, index=True),
    Column("state", LargeBinary, nullable=False),
)

tallies = Table(
    "analytics_tallies",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("release", Integer, nullable=False),
    Column("document", LargeBinary, nullable=False),
)


@dataclass
class Changes:
    persons: set[int]
    unmapped: set[str]  # tables whose writes name no person (dealers, canary_marks)
    last_seq: int


def read_changes(conn: Connection) -> Changes:
    out = Changes(set(), set(), 0)
    stmt = select(changes.c.seq, changes.c.person_id, changes.c.source)
    for seq, pid, source in conn.execute(stmt, execution_options=STREAM):
        out.last_seq = max(out.last_seq, int(seq))
        if pid is None:
            out.unmapped.add(str(source))
        else:
            out.persons.add(int(pid))
    return out


def last_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.max(changes.c.seq))).scalar() or 0)


def consume(conn: Connection, upto: int) -> None:
    """Delete the change rows this snapshot saw (PostgreSQL's repeatable read: a row
    committed after the snapshot began is not seen by this delete either)."""
    conn.execute(delete(changes).where(changes.c.seq <= upto))


def load_tallies(conn: Connection) -> tuple[int, bytes] | None:
    """The last release's sealed counts, or None when a refresh cannot start from them
    (none yet, or a release's contributions were written and the release never was)."""
    rows = {r.name: r for r in conn.execute(select(tallies))}
    if PENDING in rows or COUNTS not in rows:
        return None
    return int(rows[COUNTS].release), bytes(rows[COUNTS].document)


def mark_pending(conn: Connection, release: int) -> None:
    conn.execute(delete(tallies).where(tallies.c.name == PENDING))
    conn.execute(insert(tallies).values(name=PENDING, release=release, document=b""))


def save_tallies(conn: Connection, release: int, document: bytes) -> None:
    conn.execute(delete(tallies))
    conn.execute(insert(tallies).values(name=COUNTS, release=release, document=document))


def states_of(conn: Connection, pids: Iterable[int]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    listed = sorted(pids)
    for i in range(0, len(listed), WRITE_BATCH):
        chunk = listed[i : i + WRITE_BATCH]
        q = select(people.c.person_id, people.c.state).where(people.c.person_id.in_(chunk))
        out.update((int(p), bytes(s)) for p, s in conn.execute(q))
    return out


def persons_due(conn: Connection, tags: Iterable[bytes]) -> set[int]:
    q = select(people.c.person_id).where(people.c.recheck.in_(list(tags)))
    return {int(p) for p in conn.execute(q).scalars()}


def all_states(conn: Connection) -> Iterator[tuple[int, bytes]]:
    stmt = select(people.c.person_id, people.c.state).order_by(people.c.person_id)
    for pid, state in conn.execute(stmt, execution_options=STREAM):
        yield int(pid), bytes(state)


def clear_states(conn: Connection) -> None:
    conn.execute(delete(people))


def write_states(conn: Connection, gone: Iterable[int], rows: list[dict[str, Any]]) -> None:
    """Replace the states of the persons given: `gone` (and every row's person) deleted,
    `rows` ({person_id, recheck, state}) inserted."""
    ids = sorted(set(gone) | {r["person_id"] for r in rows})
    for i in range(0, len(ids), WRITE_BATCH):
        conn.execute(delete(people).where(people.c.person_id.in_(ids[i : i + WRITE_BATCH])))
    for i in range(0, len(rows), WRITE_BATCH):
        conn.execute(insert(people), rows[i : i + WRITE_BATCH])
