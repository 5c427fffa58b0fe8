"""Re-indexing the registry's blind indexes under a new key version, a batch at a time.

Each indexed row records the key version that computed its index (`bidx_key`); a batch
takes rows not under the target version in key order, decrypts the indexed values
(name and birth date, permit number, serial), computes the index under the target version
and writes it with the version, in the caller's transaction. A row that a writer changed
meanwhile is already under the target version (writers use it as soon as a rotation
starts) and is left alone. Rows are found by their version, so an interrupted run resumes
where it stopped and a final pass finds any straggler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from strongroom.errors import Conflict
from strongroom.registry.models import DataKey, Identity, Permit, Person, Weapon
from strongroom.vault.blind_index import BlindIndexer


class DecryptingVault(Protocol):
    def decrypt(self, store: str, row_id: str, field: str, blob: bytes | None) -> str | None: ...
    def load_keys(self, rows: Iterable[tuple[int, str, int, bytes]]) -> None: ...


@dataclass(frozen=True)
class Indexed:
    """One table with a blind index: its key column, the index column and how a row's
    index is computed from its decrypted values."""

    table: Any
    pk: Any
    column: str
    read: Callable[[Session, int, int, int], list[tuple[Any, ...]]]
    digest: Callable[[DecryptingVault, BlindIndexer, tuple[Any, ...]], bytes | None]
    keys: Callable[[list[tuple[Any, ...]]], list[tuple[int, str, int, bytes]]] | None = None


def _identities(s: Session, version: int, after: int, limit: int) -> list[tuple[Any, ...]]:
    # With each person's own identity key (when it has one), loaded for the batch at once.
    own = (DataKey.person_id == Identity.person_id) & (DataKey.store == "identity")
    return list(
        s.execute(
            select(
                Identity.person_id,
                Person.public_id,
                Identity.family_name_ct,
                Identity.birth_date_ct,
                DataKey.id,
                DataKey.kek_version,
                DataKey.wrapped,
            )
            .join(Person, Person.id == Identity.person_id)
            .outerjoin(DataKey, own)
            .where(Identity.person_id > after, Identity.bidx_key != version)
            .order_by(Identity.person_id)
            .limit(limit)
        ).all()
    )


def _identity_keys(rows: list[tuple[Any, ...]]) -> list[tuple[int, str, int, bytes]]:
    return [(int(r[4]), "identity", int(r[5]), bytes(r[6])) for r in rows if r[4] is not None]


def _name_dob(vault: DecryptingVault, ix: BlindIndexer, row: tuple[Any, ...]) -> bytes:
    _, pid, name_ct, dob_ct, *_ = row
    name = vault.decrypt("identity", pid, "family_name", name_ct) or ""
    dob = vault.decrypt("identity", pid, "birth_date", dob_ct) or ""
    return ix.digest("name_dob", name, dob)


def _permits(s: Session, version: int, after: int, limit: int) -> list[tuple[Any, ...]]:
    return list(
        s.execute(
            select(Permit.id, Permit.public_id, Permit.number_ct, Person.erased_at)
            .join(Person, Person.id == Permit.person_id)
            .where(Permit.id > after, Permit.bidx_key != version)
            .order_by(Permit.id)
            .limit(limit)
        ).all()
    )


def _permit_number(vault: DecryptingVault, ix: BlindIndexer, row: tuple[Any, ...]) -> bytes | None:
    _, pid, number_ct, erased_at = row
    if number_ct is None:
        if erased_at is None:
            raise Conflict(
                "a living holder's permit has no sealed number to re-index", reason="unindexable"
            )
        return None  # the holder was erased with the number: nothing to find it by
    return ix.digest("permit", vault.decrypt("asset", pid, "number", number_ct) or "")


def _weapons(s: Session, version: int, after: int, limit: int) -> list[tuple[Any, ...]]:
    return list(
        s.execute(
            select(Weapon.id, Weapon.public_id, Weapon.serial_ct)
            .where(Weapon.id > after, Weapon.bidx_key != version)
            .order_by(Weapon.id)
            .limit(limit)
        ).all()
    )


def _serial(vault: DecryptingVault, ix: BlindIndexer, row: tuple[Any, ...]) -> bytes:
    _, wid, serial_ct = row
    return ix.digest("serial", vault.decrypt("asset", wid, "serial", serial_ct) or "")


INDEXED = (
    Indexed(Identity, Identity.person_id, "name_dob_bidx", _identities, _name_dob, _identity_keys),
    Indexed(Permit, Permit.id, "number_bidx", _permits, _permit_number),
    Indexed(Weapon, Weapon.id, "serial_bidx", _weapons, _serial),
)


def usage(s: Session) -> dict[str, dict[int, int]]:
    """Rows per key version, per indexed table."""
    out: dict[str, dict[int, int]] = {}
    for t in INDEXED:
        rows = s.execute(select(t.table.bidx_key, func.count()).group_by(t.table.bidx_key))
        out[t.table.__tablename__] = {int(v): int(n) for v, n in rows}
    return out


def pending(s: Session, version: int) -> int:
    """Rows not yet indexed under `version`."""
    return sum(
        int(s.execute(select(func.count()).where(t.table.bidx_key != version)).scalar_one())
        for t in INDEXED
    )


def unindexable(s: Session) -> int:
    """Permits of living persons written before numbers were sealed (Alembic 0004): their
    index cannot be recomputed, so a rotation would make them unfindable."""
    return int(
        s.execute(
            select(func.count())
            .select_from(Permit)
            .join(Person, Person.id == Permit.person_id)
            .where(Permit.number_ct.is_(None), Person.erased_at.is_(None))
        ).scalar_one()
    )


def reindex_batch(
    s: Session, vault: DecryptingVault, ix: BlindIndexer, t: Indexed, after: int, limit: int
) -> tuple[int, int | None]:
    """Re-index up to `limit` rows of `t` past key `after` under `ix`'s version. Returns
    (rows re-indexed, the last key seen, or None when none was left)."""
    rows = t.read(s, ix.version, after, limit)
    if not rows:
        return 0, None
    if t.keys is not None:
        vault.load_keys(t.keys(rows))
    values = [{"k": row[0], "b": t.digest(vault, ix, row)} for row in rows]
    stmt = (
        update(t.table)
        .where(t.pk == bindparam("k"), t.table.bidx_key != ix.version)
        .values({t.column: bindparam("b"), "bidx_key": ix.version})
        .execution_options(synchronize_session=False)
    )
    s.connection().execute(stmt, values)
    return len(rows), int(rows[-1][0])
