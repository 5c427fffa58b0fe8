"""The suppression ledger: what every analytics release published and hid, kept in the
registry database (never in the analytics schema or file analysts read).

`analytics_cells` holds, per group (a universe), every non-zero cell of the last release
with its count, its state and the count a release showed and it has kept since, and every
cell ever hidden or ever protected with those flags: the next release keeps those hidden
(a cell suppressed once is never published later, so two releases never differ by a
suppressed count).
`analytics_knowledge` holds, per group, what the releases so far let anyone write about
their hidden counts (`suppress.Knowledge`): the next release is audited against it.
`analytics_releases` records who built each release, under which declarations, and how
many cells were suppressed.

Aggregate exports keep a ledger of the same shape in their own tables (exports/store.py):
`load`, `load_knowledge` and `save_groups` take the tables to use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from strongroom.analytics.solve import Number
from strongroom.analytics.suppress import Cell, Knowledge, PastCell, Var

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SEP = "\x1f"  # between a cell's values: no label holds a control character
INSERT_BATCH = 5000

metadata = MetaData(naming_convention=NAMING)

releases = Table(
    "analytics_releases",
    metadata,
    Column("release", Integer, primary_key=True, autoincrement=False),
    Column("built_at", Float, nullable=False),
    Column("built_by", String(128), nullable=False),
    Column("action", String(8), nullable=False),  # build | refresh
    Column("signature", Text, nullable=False),  # JSON: k, generalizations, views
    Column("suppressed", Integer, nullable=False),
)


def cells_table(meta: MetaData, name: str) -> Table:
    """A ledger's cells: per group, every non-zero cell of the last release and every cell
    ever hidden or protected (the exports' ledger has the same shape, exports/store.py)."""
    return Table(
        name,
        meta,
        Column("grp", String(80), primary_key=True),
        Column("level", String(200), primary_key=True),
        Column("cell", String(1000), primary_key=True),
        Column("n", BigInteger, nullable=False),
        Column("state", String(10), nullable=False),
        Column("hidden_ever", Boolean, nullable=False),
        Column("protected_ever", Boolean, nullable=False),
        Column("published_n", BigInteger, nullable=True),
    )


def knowledge_table(meta: MetaData, name: str) -> Table:
    return Table(
        name,
        meta,
        Column("grp", String(80), primary_key=True),
        Column("document", Text, nullable=False),  # JSON: equations and guarded unknowns
    )


cells = cells_table(metadata, "analytics_cells")
knowledge = knowledge_table(metadata, "analytics_knowledge")


@dataclass(frozen=True)
class Release:
    release: int
    built_at: float
    built_by: str
    action: str
    signature: dict[str, Any]
    suppressed: int


def last_release(conn: Connection) -> Release | None:
    row = conn.execute(select(releases).order_by(releases.c.release.desc()).limit(1)).first()
    if row is None:
        return None
    return Release(
        release=int(row.release),
        built_at=float(row.built_at),
        built_by=str(row.built_by),
        action=str(row.action),
        signature=json.loads(row.signature),
        suppressed=int(row.suppressed),
    )


def load(
    conn: Connection, table: Table = cells, grp: str | None = None
) -> dict[str, dict[Cell, PastCell]]:
    q = select(table) if grp is None else select(table).where(table.c.grp == grp)
    out: dict[str, dict[Cell, PastCell]] = {}
    for row in conn.execute(q):
        level = tuple(row.level.split(",")) if row.level else ()
        key = tuple(row.cell.split(SEP)) if level else ()
        out.setdefault(row.grp, {})[(level, key)] = PastCell(
            n=int(row.n),
            state=str(row.state),
            hidden_ever=bool(row.hidden_ever),
            protected_ever=bool(row.protected_ever),
            published_n=None if row.published_n is None else int(row.published_n),
        )
    return out


def _var_out(var: Var) -> list[Any]:
    (level, key), n = var
    return [list(level), list(key), n]


def _var_in(raw: list[Any]) -> Var:
    return ((tuple(raw[0]), tuple(raw[1])), int(raw[2]))


def _coef_out(c: Number) -> list[int]:
    f = Fraction(c)
    return [f.numerator, f.denominator]


def _coef_in(raw: list[int]) -> Number:
    return raw[0] if raw[1] == 1 else Fraction(raw[0], raw[1])


def load_knowledge(
    conn: Connection, table: Table = knowledge, grp: str | None = None
) -> dict[str, Knowledge]:
    q = select(table) if grp is None else select(table).where(table.c.grp == grp)
    out: dict[str, Knowledge] = {}
    for row in conn.execute(q):
        doc = json.loads(row.document)
        out[row.grp] = Knowledge(
            rows=[{_var_in(v): _coef_in(c) for v, c in r} for r in doc["rows"]],
            guarded={_var_in(v) for v in doc["guarded"]},
        )
    return out


def save(
    conn: Connection,
    release: Release,
    ledgers: Mapping[str, Mapping[Cell, PastCell]],
    known: Mapping[str, Knowledge],
) -> None:
    conn.execute(
        insert(releases).values(
            release=release.release,
            built_at=release.built_at,
            built_by=release.built_by,
            action=release.action,
            signature=json.dumps(release.signature, sort_keys=True),
            suppressed=release.suppressed,
        )
    )
    save_groups(conn, ledgers, known)


def save_groups(
    conn: Connection,
    ledgers: Mapping[str, Mapping[Cell, PastCell]],
    known: Mapping[str, Knowledge],
    *,
    cells_to: Table = cells,
    knowledge_to: Table = knowledge,
) -> None:
    """Replace the ledger and knowledge of each group given (in the caller's transaction)."""
    # Groups not rebuilt this time (a view dropped) keep their rows: what they hid stays
    # hidden if the view comes back.
    for grp in ledgers:
        conn.execute(delete(cells_to).where(cells_to.c.grp == grp))
    batch: list[dict[str, Any]] = []
    for grp, ledger in ledgers.items():
        for (level, key), past in ledger.items():
            batch.append(
                {
                    "grp": grp,
                    "level": ",".join(level),
                    "cell": SEP.join(key),
                    "n": past.n,
                    "state": past.state,
                    "hidden_ever": past.hidden_ever,
                    "protected_ever": past.protected_ever,
                    "published_n": past.published_n,
                }
            )
            if len(batch) >= INSERT_BATCH:
                conn.execute(insert(cells_to), batch)
                batch = []
    if batch:
        conn.execute(insert(cells_to), batch)
    for grp, kb in known.items():
        conn.execute(delete(knowledge_to).where(knowledge_to.c.grp == grp))
        doc = {
            "rows": [[[_var_out(v), _coef_out(c)] for v, c in r.items()] for r in kb.rows],
            "guarded": sorted(_var_out(v) for v in kb.guarded),
        }
        conn.execute(insert(knowledge_to).values(grp=grp, document=json.dumps(doc)))
