"""Field-level envelope encryption: AES-256-GCM (NIST SP 800-38D, via cryptography's
AESGCM) under data keys (DEKs) wrapped by a per-store KEK (`data_keys.py`).

Ciphertext format, version 1 (what an `*_ct` column holds):

    offset  size  content
    0       1     format version, 0x01
    1       4     DEK id, unsigned big-endian
    5       12    nonce, random per encryption
    17      n+16  AES-256-GCM ciphertext of the padded plaintext, then the 16-byte tag

    plaintext = UTF-8 value | 0x80 | 0x00 ... up to a multiple of 16 bytes
                (ISO/IEC 7816-4 padding: a copied column does not give away name lengths)
    AAD       = 0x01 | store | 0x00 | field | 0x00 | row public ID (UTF-8)

The row's public ID, the field and the store are bound as associated data, so a ciphertext
moved to another row, field or store fails to decrypt, as does any flipped byte. A random
96-bit nonce is safe for 2^32 messages under one key; a DEK serves at most `max_uses`
encryptions (default 2^20) before a new generation starts, far below that bound.

Two kinds of DEK share the format and the cache: generations, shared by many rows of a
store and rolled by count, and person keys (`mint_person_key`), one per store per person,
so that deleting a person's keys destroys that person's ciphertext only (crypto-shredding,
`registry/erasure.py`). Which kind a ciphertext used is only known from the key store.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.vault.blind_index import BlindIndexer
from strongroom.vault.data_keys import NONCE_BYTES, WrappedKeyStore, new_dek_id
from strongroom.vault.errors import IntegrityError, UnknownKeyError, VaultError
from strongroom.vault.index_ring import DEFAULT_TTL, IndexKeyRing, IndexKeyStates
from strongroom.vault.keys import KeyProvider, RotatingKeyProvider
from strongroom.vault.secret import Secret

FORMAT_V1 = 1
HEADER = 1 + 4 + NONCE_BYTES
TAG_BYTES = 16
BLOCK = 16
MIN_BLOB = HEADER + BLOCK + TAG_BYTES
DEFAULT_MAX_USES = 2**20
# Unwrapped DEKs kept per process. An AESGCM object holds about 2.3 KB of cipher context:
# with a key per person, an unbounded cache would grow by 4.6 KB for every person a
# worker ever read. 16,384 keys is about 40 MB; past it the oldest quarter is dropped
# (a later read unwraps again: one KEK call, in the token for an HSM).
DEFAULT_MAX_CACHED_KEYS = 16_384
Progress = Callable[[int, int], None]


class _Generation:
    """The DEK that currently encrypts for one store."""

    __slots__ = ("dek_id", "aead", "header", "uses")

    def __init__(self, dek_id: int, aead: AESGCM) -> None:
        # next() on itertools.count is atomic under the GIL: threads never overuse a DEK.
        self.dek_id, self.aead, self.uses = dek_id, aead, itertools.count()
        self.header = _header(dek_id)


@dataclass(frozen=True)
class PersonKey:
    """A DEK of one person in one store, freshly minted: the caller stores `wrapped` (with
    the person's key) in the same transaction as the ciphertexts, and encrypts with it."""

    store: str
    dek_id: int
    kek_version: int
    wrapped: bytes
    gen: _Generation


@dataclass(frozen=True)
class Rotation:
    store: str
    kek_version: int
    rewrapped: int


def _header(dek_id: int) -> bytes:
    return bytes([FORMAT_V1]) + dek_id.to_bytes(4, "big")


def _pad(raw: bytes) -> bytes:
    raw += b"\x80"
    return raw + b"\0" * (-len(raw) % BLOCK)


class Vault:
    """Encrypts and decrypts registry fields, and computes blind indexes."""

    def __init__(
        self,
        provider: KeyProvider,
        wrapped_keys: WrappedKeyStore,
        *,
        max_uses: int = DEFAULT_MAX_USES,
        max_cached_keys: int = DEFAULT_MAX_CACHED_KEYS,
        index_states: IndexKeyStates | None = None,
        index_ttl: float = DEFAULT_TTL,
    ) -> None:
        """`index_states`: where the blind-index key versions' states are shared (the
        registry's, `registry/index_versions.py`); without it version 1 only."""
        if max_uses < 1 or max_cached_keys < 4:
            raise ValueError("max_uses must be positive, max_cached_keys at least 4")
        self.max_cached_keys = max_cached_keys
        self.provider = provider
        self.wrapped_keys = wrapped_keys
        self.max_uses = max_uses
        self.decrypt_count = 0
        self.encrypt_count = 0
        self.index_ring = IndexKeyRing(provider, index_states, ttl=index_ttl)
        # dek_id -> (store, AESGCM), in the order first used; bounded (`_remember`).
        self._deks: dict[int, tuple[str, AESGCM]] = {}
        self._by_header: dict[bytes, tuple[str, AESGCM]] = {}
        self._current: dict[str, _Generation] = {}
        self._aad: dict[tuple[str, str], bytes] = {}
        self._lock = threading.RLock()
        self._forgotten = 0  # erasures so far (`forget`), so a key read before one is not cached

    # --- fields ----------------------------------------------------------------------------
    def encrypt(
        self,
        store: str,
        row_id: str,
        field: str,
        value: str | None,
        key: PersonKey | None = None,
    ) -> bytes | None:
        """`key`: a person's own DEK (it encrypts a handful of fields, never near the
        nonce bound); otherwise the store's current generation."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"vault fields are str, not {type(value).__name__}")
        if key is not None:
            if key.store != store:
                raise VaultError(f"a {key.store} key cannot encrypt {store} fields")
            gen = key.gen
        else:
            current = self._current.get(store)
            while current is None or next(current.uses) >= self.max_uses:
                current = self._roll(store, current)
            gen = current
        self.encrypt_count += 1
        nonce = os.urandom(NONCE_BYTES)
        aad = self._aad.get((store, field)) or self._aad_prefix(store, field)
        ct = gen.aead.encrypt(nonce, _pad(value.encode("utf-8")), aad + row_id.encode("utf-8"))
        return gen.header + nonce + ct

    def decrypt(self, store: str, row_id: str, field: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        self.decrypt_count += 1
        # The 5-byte header (format, DEK id) keys the cache directly: one dict lookup.
        entry = self._by_header.get(blob[:5]) or self._load_header(blob)
        if entry[0] != store:
            raise IntegrityError(f"{store}.{field}: ciphertext belongs to another store")
        aad = self._aad.get((store, field)) or self._aad_prefix(store, field)
        try:
            padded = entry[1].decrypt(blob[5:HEADER], blob[HEADER:], aad + row_id.encode())
            # Authenticated, so the padding is ours: the last 0x80 ends the value.
            return padded[: padded.rindex(0x80)].decode("utf-8")
        except InvalidTag as exc:
            raise IntegrityError(
                f"{store}.{field}: ciphertext failed authentication (tampered, truncated "
                "or moved from another row or field)"
            ) from exc
        except ValueError as exc:  # no padding marker, or not UTF-8
            raise IntegrityError(f"{store}.{field}: malformed plaintext") from exc

    def reveal(self, store: str, row_id: str, field: str, blob: bytes | None) -> Secret | None:
        """`decrypt`, wrapped in a `Secret` that prints as `**********`."""
        value = self.decrypt(store, row_id, field, blob)
        return None if value is None else Secret(value)

    def blind_index(self, kind: str, *values: str) -> bytes:
        """The digest a row is written with (under the writing key version)."""
        return self.index_ring.writer().digest(kind, *values)

    def blind_indexes(self, kind: str, *values: str) -> list[bytes]:
        """The digests a search looks for: one per live key version (two while a rotation
        re-indexes, `index_ring.py`)."""
        return [ix.digest(kind, *values) for ix in self.index_ring.readers()]

    def index_writer(self) -> BlindIndexer:
        """The writing key version's indexer, for a batch that records the version."""
        return self.index_ring.writer()

    # --- data keys -------------------------------------------------------------------------
    def new_generation(self, store: str) -> int:
        """Start a fresh DEK for `store` (e.g. one per seeding batch); returns its id."""
        with self._lock:
            version = self.provider.kek_version(store)
            dek = AESGCM.generate_key(bit_length=256)
            dek_id = new_dek_id()
            while dek_id in self._deks or self.wrapped_keys.get(dek_id) is not None:
                dek_id = new_dek_id()
            wrapped = self.provider.wrap_dek(store, version, dek_id, dek)
            self.wrapped_keys.put(dek_id, store, version, wrapped)
            aead = AESGCM(dek)
            self._current[store] = _Generation(dek_id, aead)
            self._remember(dek_id, (store, aead))
            return dek_id

    def mint_person_key(self, store: str, dek_id: int, kek_version: int | None = None) -> PersonKey:
        """A fresh DEK for one person, wrapped under the store's current KEK (in the HSM,
        for a PKCS#11 provider). Not stored: the caller writes it beside the person's rows,
        in their transaction, with an id free in the key store. A batch passes the
        `kek_version` it read once: an HSM provider re-reads the token's objects to answer
        (about 2 ms with SoftHSM2), which per person would dominate a seed."""
        version = self.provider.kek_version(store) if kek_version is None else kek_version
        dek = AESGCM.generate_key(bit_length=256)
        wrapped = self.provider.wrap_dek(store, version, dek_id, dek)
        # Not cached: a seed mints millions, each used for a handful of fields right away.
        return PersonKey(store, dek_id, version, wrapped, _Generation(dek_id, AESGCM(dek)))

    def person_key(self, store: str, dek_id: int) -> PersonKey:
        """A stored person key, for re-encrypting one of that person's fields."""
        row = self.wrapped_keys.get(dek_id)
        if row is None or row[0] != store:
            raise UnknownKeyError(f"data key {dek_id} is not a {store} key in the key store")
        _, aead = self._load(dek_id)
        return PersonKey(store, dek_id, row[1], row[2], _Generation(dek_id, aead))

    def load_keys(self, rows: Iterable[tuple[int, str, int, bytes]]) -> None:
        """Unwrap and cache the data keys (id, store, KEK version, wrapped) a batch is about
        to read, read by the caller with its rows: one query for the batch, not one per
        key (a re-index reads every person's own key once)."""
        with self._lock:
            for dek_id, store, version, wrapped in rows:
                if dek_id not in self._deks:
                    dek = self.provider.unwrap_dek(store, version, dek_id, bytes(wrapped))
                    self._remember(dek_id, (store, AESGCM(dek)))

    def forget(self, dek_ids: list[int]) -> None:
        """Drop unwrapped DEKs from this process's cache (after an erasure deleted them)."""
        with self._lock:
            self._forgotten += 1
            for dek_id in dek_ids:
                self._deks.pop(dek_id, None)
                self._by_header.pop(_header(dek_id), None)

    def _roll(self, store: str, spent: _Generation | None) -> _Generation:
        """Replace `spent` with a fresh generation, unless another thread already did."""
        with self._lock:
            if self._current.get(store) is spent:
                self.new_generation(store)
            return self._current[store]

    def _load_header(self, blob: bytes) -> tuple[str, AESGCM]:
        if len(blob) < MIN_BLOB or blob[0] != FORMAT_V1:
            raise IntegrityError("not a vault ciphertext (format 1)")
        return self._load(int.from_bytes(blob[1:5], "big"))

    def _load(self, dek_id: int) -> tuple[str, AESGCM]:
        found = self._deks.get(dek_id)  # a dict read is atomic
        if found is not None:
            return found
        # The key store and the KEK are asked without the lock: with a key per person,
        # most first reads of a person miss, and one thread's query must not hold up the
        # others' decryption. An erasure (`forget`) meanwhile bumps the epoch, and a key
        # read before it is then used for this one call but not cached.
        epoch = self._forgotten
        row = self.wrapped_keys.get(dek_id)
        if row is None:
            raise UnknownKeyError(f"data key {dek_id} is not in the key store")
        entry = self._unwrap(dek_id, row)
        self._keep({dek_id: entry}, epoch)
        return entry

    def preload(self, blobs: Iterable[bytes | None]) -> None:
        """Unwrap, in one key-store call, the data keys of these ciphertexts that are not
        cached: a person's identity and address keys on that person's first read. A key
        not found is left to `decrypt`, which says so."""
        wanted = {
            int.from_bytes(b[1:5], "big")
            for b in blobs
            if b is not None and len(b) >= MIN_BLOB and b[:5] not in self._by_header
        }
        if len(wanted) < 2:  # one key is one call either way
            return
        epoch = self._forgotten
        rows = self.wrapped_keys.get_many(sorted(wanted))
        self._keep({i: self._unwrap(i, row) for i, row in rows.items()}, epoch)

    def _unwrap(self, dek_id: int, row: tuple[str, int, bytes]) -> tuple[str, AESGCM]:
        store, version, wrapped = row
        return store, AESGCM(self.provider.unwrap_dek(store, version, dek_id, wrapped))

    def _keep(self, entries: dict[int, tuple[str, AESGCM]], epoch: int) -> None:
        """Cache unwrapped keys read since `epoch`, unless an erasure came in between."""
        with self._lock:
            if self._forgotten != epoch:
                return
            for dek_id, entry in entries.items():
                if dek_id not in self._deks:
                    self._remember(dek_id, entry)

    def _remember(self, dek_id: int, entry: tuple[str, AESGCM]) -> None:
        """Cache an unwrapped DEK (the caller holds the lock). Over the bound, drop the
        oldest quarter, except the current generations (they encrypt every write)."""
        if len(self._deks) >= self.max_cached_keys:
            current = {g.dek_id for g in self._current.values()}
            old = list(itertools.islice(self._deks, self.max_cached_keys // 4))
            for i in old:
                if i not in current:
                    del self._deks[i]
                    self._by_header.pop(_header(i), None)
        self._deks[dek_id] = entry
        # Readers look the header up without the lock: a dict store is atomic.
        self._by_header[_header(dek_id)] = entry

    def _aad_prefix(self, store: str, field: str) -> bytes:
        # NUL separates the parts, so none may contain one: that keeps the AAD unambiguous.
        if not store or not field or "\0" in store or "\0" in field:
            raise VaultError("store and field names must be non-empty and NUL-free")
        prefix = bytes([FORMAT_V1]) + store.encode() + b"\0" + field.encode() + b"\0"
        self._aad[(store, field)] = prefix
        return prefix

    # --- KEK rotation ----------------------------------------------------------------------
    def rotate_kek(self, store: str, progress: Progress | None = None) -> Rotation:
        """Mint a new KEK version for `store` and re-wrap every DEK of the store under it.
        Data rows are untouched; the old version stays readable throughout (and after, until
        `retire_unused_keks`), so readers in other workers never fail mid-rotation."""
        provider = self._rotating()
        version = provider.add_kek_version(store)
        return Rotation(store, version, self.rewrap(store, progress))

    def rewrap(self, store: str, progress: Progress | None = None) -> int:
        """Re-wrap the DEKs of `store` not yet under its current KEK; resumable. `progress`
        hears (done, total) after each one. Streams the key store (`all` may page): with
        two keys per person, a list of every wrapped key would cost memory per person."""
        current = self.provider.kek_version(store)
        total = sum(n for v, n in self._usage(store).items() if v != current)
        done = 0
        for dek_id, row_store, version, wrapped in self.wrapped_keys.all():
            if row_store != store or version == current:
                continue
            # Each row is replaced whole (put), so a reader sees the old or the new wrapping,
            # and both versions of the KEK stay available until retired.
            dek = self.provider.unwrap_dek(store, version, dek_id, wrapped)
            rewrapped = self.provider.wrap_dek(store, current, dek_id, dek)
            self.wrapped_keys.put(dek_id, store, current, rewrapped)
            done += 1
            if progress is not None:
                progress(done, max(total, done))
        return done

    def kek_usage(self, store: str) -> dict[int, int]:
        """How many data keys each KEK version of `store` wraps (0 for unused versions a
        rotating provider still holds)."""
        usage: dict[int, int] = {}
        if isinstance(self.provider, RotatingKeyProvider):
            usage = dict.fromkeys(self.provider.kek_versions(store), 0)
        usage.update(self._usage(store))
        return dict(sorted(usage.items()))

    def _usage(self, store: str) -> dict[int, int]:
        """Data keys per KEK version of `store`: counted by the key store when it can (the
        registry's, in SQL), else by reading every row."""
        count = getattr(self.wrapped_keys, "usage", None)
        if count is not None:
            return dict(count(store))
        usage: dict[int, int] = {}
        for _, row_store, version, _ in self.wrapped_keys.all():
            if row_store == store:
                usage[version] = usage.get(version, 0) + 1
        return usage

    def retire_unused_keks(self, store: str, keep: Collection[int] = ()) -> list[int]:
        """Drop KEK versions of `store` that no wrapped DEK refers to (never the current,
        nor those in `keep`: the version backups still in retention were wrapped under).
        Retiring a version makes every copy of the database wrapped under it unreadable,
        erased persons included: that is how an erasure reaches old backups."""
        provider = self._rotating()
        current = provider.kek_version(store)
        used = {v for v, n in self._usage(store).items() if n}
        retired = [
            v
            for v in provider.kek_versions(store)
            if v != current and v not in used and v not in keep
        ]
        for version in retired:
            provider.retire_kek_version(store, version)
        return retired

    def _rotating(self) -> RotatingKeyProvider:
        if not isinstance(self.provider, RotatingKeyProvider):
            raise VaultError(f"{type(self.provider).__name__} cannot rotate KEKs")
        return self.provider
