"""Data-encryption keys (DEKs) and their wrapping under a KEK (NIST SP 800-38D AES-GCM).

A DEK is 32 random bytes, identified by a random positive 31-bit integer (it fits the
registry's INTEGER column and the 4-byte field of the ciphertext header) and wrapped as

    wrapped = nonce (12) | AES-256-GCM(KEK_store_v, nonce, DEK, AAD)
    AAD     = b"strongroom/dek/v1" 0x00 store 0x00 dek_id (decimal) 0x00 kek_version

so a wrapped DEK copied to another id, store or KEK version fails to unwrap. Wrapped DEKs
live behind `WrappedKeyStore` (the registry keeps them in its `data_keys` table); unwrapped
ones only in process memory.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.vault.errors import IntegrityError

NONCE_BYTES = 12
MAX_DEK_ID = 2**31 - 1
WrappedKey = tuple[str, int, bytes]  # (store, kek_version, wrapped)


class WrappedKeyStore(Protocol):
    """Where wrapped DEKs are kept. `put` inserts or replaces (rotation rewrites rows);
    `get` returns None for an unknown id; `all` yields (dek_id, store, kek_version,
    wrapped)."""

    def put(self, dek_id: int, store: str, kek_version: int, wrapped: bytes) -> None: ...
    def get(self, dek_id: int) -> WrappedKey | None: ...
    def get_many(self, dek_ids: Sequence[int]) -> dict[int, WrappedKey]: ...
    def all(self) -> Iterable[tuple[int, str, int, bytes]]: ...


class MemoryWrappedKeyStore:
    """A `WrappedKeyStore` in a dict, for tests and one-off tools."""

    def __init__(self) -> None:
        self._rows: dict[int, WrappedKey] = {}
        self._lock = threading.Lock()

    def put(self, dek_id: int, store: str, kek_version: int, wrapped: bytes) -> None:
        with self._lock:
            self._rows[int(dek_id)] = (store, int(kek_version), bytes(wrapped))

    def get(self, dek_id: int) -> WrappedKey | None:
        return self._rows.get(int(dek_id))

    def get_many(self, dek_ids: Sequence[int]) -> dict[int, WrappedKey]:
        found = ((int(i), self._rows.get(int(i))) for i in dek_ids)
        return {i: row for i, row in found if row is not None}

    def all(self) -> list[tuple[int, str, int, bytes]]:
        with self._lock:
            return [(i, *row) for i, row in sorted(self._rows.items())]


# Generations draw their ids at random from the upper half; person keys take theirs from
# the person's internal key in the lower half (`person_dek_id`), so a seed's worker
# processes never pick the same id. Homes from before this split may hold generations
# anywhere: a person key whose id is taken falls back to a random upper-half id.
PERSON_DEK_IDS = 2**30


def new_dek_id() -> int:
    return PERSON_DEK_IDS + secrets.randbelow(MAX_DEK_ID - PERSON_DEK_IDS + 1)


def person_dek_id(person_pk: int, store_index: int) -> int:
    """The id of a person's key in the store numbered `store_index` (0 or 1)."""
    dek_id = 2 * int(person_pk) + store_index
    if not 0 < dek_id < PERSON_DEK_IDS or store_index not in (0, 1):
        raise ValueError("person key out of range")
    return dek_id


def dek_aad(store: str, dek_id: int, kek_version: int) -> bytes:
    return b"\0".join(
        [b"strongroom/dek/v1", store.encode(), str(dek_id).encode(), str(kek_version).encode()]
    )


def wrap(kek: bytes, store: str, dek_id: int, kek_version: int, dek: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, dek, dek_aad(store, dek_id, kek_version))


def unwrap(kek: bytes, store: str, dek_id: int, kek_version: int, wrapped: bytes) -> bytes:
    wrapped = bytes(wrapped)
    try:
        return AESGCM(kek).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], dek_aad(store, dek_id, kek_version)
        )
    except InvalidTag as exc:
        raise IntegrityError(f"data key {dek_id} of store {store!r} failed to unwrap") from exc
