"""The vault's `WrappedKeyStore` on the registry's `data_keys` table: wrapped data keys
(envelope encryption, NIST SP 800-38D) sit beside the rows they protect, useless without the
key-encryption keys kept outside the database (`keys/`).

`put` inserts or replaces (a KEK rotation re-wraps rows in place), each in its own short
transaction so a key is durable before any ciphertext that needs it is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from strongroom.errors import Unavailable
from strongroom.registry.models import DataKey
from strongroom.vault.envelope import Vault
from strongroom.vault.keys import KeyProvider

WrappedKey = tuple[str, int, bytes]
PAGE = 5_000
# A person's first read looks up its key: built once (building a statement costs more
# than running it).
_BY_ID = select(DataKey.store, DataKey.kek_version, DataKey.wrapped).where(
    DataKey.id == bindparam("id")
)
_BY_IDS = select(DataKey.id, DataKey.store, DataKey.kek_version, DataKey.wrapped).where(
    DataKey.id.in_(bindparam("ids", expanding=True))
)


def _unavailable(exc: SQLAlchemyError) -> Unavailable:
    return Unavailable(f"the data-key store is unavailable: {type(exc).__name__}")


class SqlWrappedKeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        if dialect == "postgresql":
            self._insert = postgresql.insert
        elif dialect == "sqlite":
            self._insert = sqlite.insert
        else:  # checked here, not on the first key write
            raise Unavailable(f"unsupported database for data keys: {dialect}")

    def put(self, dek_id: int, store: str, kek_version: int, wrapped: bytes) -> None:
        values = {"store": store, "kek_version": int(kek_version), "wrapped": bytes(wrapped)}
        stmt = self._insert(DataKey).values(id=int(dek_id), **values)
        stmt = stmt.on_conflict_do_update(index_elements=[DataKey.id], set_=values)
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt)
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def get(self, dek_id: int) -> WrappedKey | None:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(_BY_ID, {"id": int(dek_id)}).first()
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc
        return None if row is None else (row[0], int(row[1]), bytes(row[2]))

    def get_many(self, dek_ids: Sequence[int]) -> dict[int, WrappedKey]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(_BY_IDS, {"ids": [int(i) for i in dek_ids]}).all()
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc
        return {int(r[0]): (r[1], int(r[2]), bytes(r[3])) for r in rows}

    def all(self) -> Iterator[tuple[int, str, int, bytes]]:
        """Every row in id order, read a page at a time (keyset on the id, each page its
        own short read): with two keys per person the table grows with the registry, and
        a rotation re-wraps rows while it walks them."""
        after = 0
        while True:
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        select(DataKey.id, DataKey.store, DataKey.kek_version, DataKey.wrapped)
                        .where(DataKey.id > after)
                        .order_by(DataKey.id)
                        .limit(PAGE)
                    ).all()
            except SQLAlchemyError as exc:
                raise _unavailable(exc) from exc
            yield from ((int(r[0]), r[1], int(r[2]), bytes(r[3])) for r in rows)
            if len(rows) < PAGE:
                return
            after = int(rows[-1][0])

    def usage(self, store: str) -> dict[int, int]:
        """Data keys per KEK version of `store`, counted by the database."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(DataKey.kek_version, func.count())
                    .where(DataKey.store == store)
                    .group_by(DataKey.kek_version)
                ).all()
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc
        return {int(v): int(n) for v, n in rows}


def registry_vault(provider: KeyProvider, engine: Engine) -> Vault:
    """A vault whose wrapped data keys and blind-index key states are in the registry
    database, as every process of a home uses it (servers, CLI, seed workers)."""
    from strongroom.registry.index_versions import SqlIndexKeyStates

    return Vault(provider, SqlWrappedKeyStore(engine), index_states=SqlIndexKeyStates(engine))
