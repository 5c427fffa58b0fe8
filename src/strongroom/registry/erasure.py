"""Per-person data keys and crypto-shredding (GDPR Art. 17).

A person's identity and address fields are encrypted under DEKs of that person only, one
per store (`data_keys.person_id`). Erasing the person deletes those keys, the ciphertext
rows and the blind index in one transaction and leaves a tombstone (`persons.erased_at`)
so the journal's pseudonymous entries still resolve.

What it does not reach by itself: a copy of the database taken before the erasure still
holds the wrapped keys. They are wrapped under the store's KEK, which never sits in the
database; once every KEK version that wrapped them is retired (`strongroom keys rotate
--store S --retire`, after the backup retention period), the copy is unreadable for that
person. See docs/keys.md, "Erasure and backups".

Weapons' serials stay under the asset store's shared generations: a weapon passes between
holders and outlives an owner's erasure (the registry must still trace it), so its serial
is the weapon's, not the person's. Permit numbers are nulled in the live database on
erasure; their copies in backups stay readable under the shared asset keys until those
backups expire.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from strongroom.registry.models import Address, DataKey, Identity, Permit, Person
from strongroom.vault.data_keys import PERSON_DEK_IDS, new_dek_id, person_dek_id
from strongroom.vault.envelope import PersonKey, Vault

PERSON_STORES = ("identity", "address")
IDENTITY_FIELDS = ("family_name", "given_names", "birth_date", "birth_place")
ADDRESS_FIELDS = ("street", "city", "postcode")
FIELDS = {"identity": IDENTITY_FIELDS, "address": ADDRESS_FIELDS}
_TABLES: dict[str, Any] = {"identity": Identity, "address": Address}


def mint_person_keys(
    vault: Vault,
    person_pk: int,
    taken: frozenset[int] | set[int] = frozenset(),
    kek_versions: dict[str, int] | None = None,
) -> dict[str, PersonKey]:
    """A fresh key per person store; ids from the person's key, unless `taken` (a home
    older than the id split may hold a generation there). `kek_versions`: the stores'
    current KEK versions, read once by a batch (`kek_versions_of`)."""
    keys = {}
    for i, store in enumerate(PERSON_STORES):
        dek_id = person_dek_id(person_pk, i)
        if dek_id in taken:
            dek_id = new_dek_id()
        version = None if kek_versions is None else kek_versions[store]
        keys[store] = vault.mint_person_key(store, dek_id, version)
    return keys


def kek_versions_of(vault: Vault) -> dict[str, int]:
    """The person stores' current KEK versions. A batch that wraps under them while a
    rotation runs leaves its keys under the previous version: the next rotation re-wraps
    them, and `--retire` keeps a version any key still uses."""
    return {store: vault.provider.kek_version(store) for store in PERSON_STORES}


def key_row(key: PersonKey, person_pk: int) -> tuple[int, str, int, bytes, int]:
    """The `data_keys` row of a person key, in the seed's column order."""
    return (key.dek_id, key.store, key.kek_version, key.wrapped, person_pk)


def taken_low_ids(vault: Any) -> frozenset[int]:
    """Generation ids of an older home that fall where person keys take theirs."""
    store = getattr(vault, "wrapped_keys", None)
    if store is None:
        return frozenset()
    return frozenset(i for i, _s, _v, _w in store.all() if i < PERSON_DEK_IDS)


def add_person_keys(s: Session, vault: Vault, person_pk: int) -> dict[str, PersonKey]:
    """Mint and store a person's keys in the caller's transaction: they commit with the
    ciphertexts they protect, or not at all."""
    taken = {
        int(i)
        for i in s.execute(
            select(DataKey.id).where(
                DataKey.id.in_([person_dek_id(person_pk, n) for n in range(2)])
            )
        ).scalars()
    }
    keys = mint_person_keys(vault, person_pk, taken)
    for key in keys.values():
        while s.get(DataKey, key.dek_id) is not None:  # a fallback id drawn twice
            key = keys[key.store] = vault.mint_person_key(key.store, new_dek_id())
        s.add(
            DataKey(
                id=key.dek_id,
                store=key.store,
                kek_version=key.kek_version,
                wrapped=key.wrapped,
                person_id=person_pk,
            )
        )
    s.flush()
    return keys


def own_keys(s: Session, person_pk: int) -> dict[str, int]:
    """store -> id of the person's own key, for the stores that have one."""
    rows = s.execute(select(DataKey.store, DataKey.id).where(DataKey.person_id == person_pk)).all()
    return {str(store): int(dek_id) for store, dek_id in rows}


def _blobs(s: Session, person_pk: int) -> dict[str, dict[str, bytes | None]]:
    out: dict[str, dict[str, bytes | None]] = {}
    for store, table in _TABLES.items():
        cols = [getattr(table, f"{f}_ct") for f in FIELDS[store]]
        row = s.execute(select(*cols).where(table.person_id == person_pk)).first()
        out[store] = dict(zip(FIELDS[store], row, strict=True)) if row else {}
    return out


def on_own_keys(s: Session, person_pk: int) -> bool:
    """Whether every identity and address ciphertext of the person is under its own keys,
    read from each ciphertext's header (the DEK id), not assumed."""
    keys = own_keys(s, person_pk)
    for store, blobs in _blobs(s, person_pk).items():
        for blob in blobs.values():
            if blob is None:
                continue
            if store not in keys or int.from_bytes(bytes(blob[1:5]), "big") != keys[store]:
                return False
    return True


def isolate_person(s: Session, vault: Vault, person_pk: int, public_id: str) -> bool:
    """Re-encrypt a person's identity and address fields under keys of their own (minted
    if missing), in the caller's transaction. False if they already were."""
    if on_own_keys(s, person_pk):
        return False
    existing = own_keys(s, person_pk)
    if existing:
        keys = {store: vault.person_key(store, dek_id) for store, dek_id in existing.items()}
        missing = [st for st in PERSON_STORES if st not in keys]
        if missing:  # pragma: no cover - keys are always added in pairs
            raise RuntimeError(f"person {public_id} lacks keys for {missing}")
    else:
        keys = add_person_keys(s, vault, person_pk)
    for store, blobs in _blobs(s, person_pk).items():
        if not blobs:
            continue
        values = {
            f"{f}_ct": vault.encrypt(
                store,
                public_id,
                f,
                vault.decrypt(store, public_id, f, blob),
                key=keys[store],
            )
            for f, blob in blobs.items()
        }
        table = _TABLES[store]
        s.execute(update(table).where(table.person_id == person_pk).values(**values))
    return True


def isolate_batch(s: Session, vault: Vault, persons: list[tuple[int, str]]) -> int:
    """`isolate_person` for many persons, in the caller's transaction, with a handful
    of statements per batch rather than a dozen per person (the ORM's cost dominated: about
    8 ms a person). Persons that already hold keys go through `isolate_person`, which
    checks each ciphertext's header. Returns how many were re-encrypted."""
    if not persons:
        return 0
    pks = [pk for pk, _ in persons]
    keyed = set(s.execute(select(DataKey.person_id).where(DataKey.person_id.in_(pks))).scalars())
    moved = sum(isolate_person(s, vault, pk, pid) for pk, pid in persons if pk in keyed)
    bare = [(pk, pid) for pk, pid in persons if pk not in keyed]
    if not bare:
        return moved
    wanted = [person_dek_id(pk, i) for pk, _ in bare for i in range(len(PERSON_STORES))]
    taken = set(s.execute(select(DataKey.id).where(DataKey.id.in_(wanted))).scalars())
    versions = kek_versions_of(vault)
    key_rows: list[dict[str, Any]] = []
    updates: dict[str, list[dict[str, Any]]] = {store: [] for store in PERSON_STORES}
    blobs = {store: _batch_blobs(s, store, [pk for pk, _ in bare]) for store in PERSON_STORES}
    for pk, pid in bare:
        keys = mint_person_keys(vault, pk, taken, versions)
        for store, key in keys.items():
            while key.dek_id in taken:  # a fallback id drawn twice
                key = keys[store] = vault.mint_person_key(store, new_dek_id(), versions[store])
            taken.add(key.dek_id)
            key_rows.append(
                {
                    "id": key.dek_id,
                    "store": store,
                    "kek_version": key.kek_version,
                    "wrapped": key.wrapped,
                    "person_id": pk,
                }
            )
            row = blobs[store].get(pk)
            if row is None:
                continue
            values: dict[str, Any] = {"pk_": pk}
            for f, blob in row.items():
                plain = vault.decrypt(store, pid, f, blob)
                values[f"{f}_ct"] = vault.encrypt(store, pid, f, plain, key=key)
            updates[store].append(values)
    # Fallback ids were checked against this batch only: one more look at the table.
    clash = s.execute(select(DataKey.id).where(DataKey.id.in_([r["id"] for r in key_rows]))).first()
    if clash is not None:  # pragma: no cover - a 1-in-2^30 draw; the next run retries
        raise RuntimeError(f"data key id {clash[0]} drawn twice: run the isolation again")
    s.execute(insert(DataKey), key_rows)
    for store, rows in updates.items():
        if rows:
            # The SET clause comes from the parameters' column names (executemany).
            t = _TABLES[store].__table__
            stmt = update(t).where(t.c.person_id == bindparam("pk_"))
            s.connection().execute(stmt, rows)
    return moved + len(bare)


def _batch_blobs(s: Session, store: str, pks: list[int]) -> dict[int, dict[str, bytes | None]]:
    table = _TABLES[store]
    cols = [getattr(table, f"{f}_ct") for f in FIELDS[store]]
    rows = s.execute(select(table.person_id, *cols).where(table.person_id.in_(pks))).all()
    return {int(r[0]): dict(zip(FIELDS[store], r[1:], strict=True)) for r in rows}


def living_persons(s: Session) -> list[tuple[int, str]]:
    """(pk, public ID) of every person not erased, in key order (`keys isolate` walks
    them; `isolate_person` skips those already on their own keys)."""
    rows = s.execute(
        select(Person.id, Person.public_id).where(Person.erased_at.is_(None)).order_by(Person.id)
    ).all()
    return [(int(pk), str(pid)) for pk, pid in rows]


def erase_person(s: Session, person_pk: int, at: float) -> list[int]:
    """Crypto-shred a person in the caller's transaction: delete their keys, their identity
    and address rows (ciphertexts and the name/birth-date blind index) and the sealed
    permit numbers, mark the row erased. Returns the deleted key ids (for caches)."""
    if s.get_bind().dialect.name == "sqlite":
        # Zero the freed pages: otherwise the deleted rows, wrapped keys included, stay in
        # the file's free pages like in a backup. (PostgreSQL keeps dead rows until VACUUM
        # and in its WAL archives: those are reached by the KEK schedule, like backups.)
        s.execute(text("PRAGMA secure_delete = ON"))
    dek_ids = list(own_keys(s, person_pk).values())
    s.execute(delete(DataKey).where(DataKey.person_id == person_pk))
    s.execute(delete(Identity).where(Identity.person_id == person_pk))
    s.execute(delete(Address).where(Address.person_id == person_pk))
    s.execute(update(Permit).where(Permit.person_id == person_pk).values(number_ct=None))
    s.execute(update(Person).where(Person.id == person_pk).values(erased_at=at))
    return dek_ids
