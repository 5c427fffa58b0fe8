"""Person keys (issue 25): a DEK per person and store, its ciphertext unreadable once the
key is gone; the cache of unwrapped keys is bounded, since every person read adds two."""

from __future__ import annotations

import pytest

from strongroom.vault import FileKeyProvider, IntegrityError, MemoryWrappedKeyStore, Vault
from strongroom.vault.data_keys import PERSON_DEK_IDS, new_dek_id, person_dek_id
from strongroom.vault.errors import UnknownKeyError, VaultError


def _stored(vault: Vault, wrapped: MemoryWrappedKeyStore, store: str, dek_id: int):  # noqa: ANN202
    key = vault.mint_person_key(store, dek_id)
    wrapped.put(key.dek_id, store, key.kek_version, key.wrapped)
    return key


def test_a_person_key_encrypts_only_its_person_and_is_named_in_the_header(
    vault: Vault, wrapped: MemoryWrappedKeyStore
) -> None:
    key = _stored(vault, wrapped, "identity", person_dek_id(7, 0))
    blob = vault.encrypt("identity", "pid-7", "family_name", "Dupont", key=key)
    assert blob is not None and int.from_bytes(blob[1:5], "big") == person_dek_id(7, 0)
    shared = vault.encrypt("identity", "pid-8", "family_name", "Martin")
    assert shared is not None and int.from_bytes(shared[1:5], "big") >= PERSON_DEK_IDS
    assert vault.decrypt("identity", "pid-7", "family_name", blob) == "Dupont"
    with pytest.raises(VaultError):
        vault.encrypt("address", "pid-7", "city", "Lyon", key=key)
    with pytest.raises(IntegrityError):
        vault.decrypt("identity", "pid-8", "family_name", blob)


def test_once_the_key_is_deleted_and_forgotten_the_ciphertext_is_unreadable(
    provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore
) -> None:
    vault = Vault(provider, wrapped)
    key = _stored(vault, wrapped, "address", person_dek_id(3, 1))
    blob = vault.encrypt("address", "pid-3", "city", "Lyon", key=key)
    other = vault.encrypt("address", "pid-4", "city", "Nantes")
    del wrapped._rows[key.dek_id]  # what `person erase` does to the data_keys row
    # Another process never saw the key; this one drops it from its cache.
    for reader in (Vault(provider, wrapped), vault):
        reader.forget([key.dek_id])
        with pytest.raises(UnknownKeyError):
            reader.decrypt("address", "pid-3", "city", blob)
        assert reader.decrypt("address", "pid-4", "city", other) == "Nantes"


def test_the_key_cache_is_bounded_and_reloads_what_it_dropped(
    provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore
) -> None:
    writer = Vault(provider, wrapped)
    blobs = []
    for pk in range(1, 41):
        key = _stored(writer, wrapped, "identity", person_dek_id(pk, 0))
        blobs.append(
            (f"pid-{pk}", writer.encrypt("identity", f"pid-{pk}", "given_names", f"P{pk}", key=key))
        )
    reader = Vault(provider, wrapped, max_cached_keys=8)
    shared = reader.encrypt("identity", "pid-x", "given_names", "X")
    for _ in range(2):
        for pid, blob in blobs:
            assert reader.decrypt("identity", pid, "given_names", blob) == f"P{pid[4:]}"
            assert len(reader._deks) <= 8
    # The current generation stays cached (it encrypts every write) and still reads.
    assert reader._current["identity"].dek_id in reader._deks
    assert reader.decrypt("identity", "pid-x", "given_names", shared) == "X"


def test_person_key_ids_and_generation_ids_do_not_overlap() -> None:
    assert person_dek_id(1, 0) == 2 and person_dek_id(1, 1) == 3
    assert all(new_dek_id() >= PERSON_DEK_IDS for _ in range(1000))
    with pytest.raises(ValueError):
        person_dek_id(PERSON_DEK_IDS, 0)


class _EraseDuringRead(MemoryWrappedKeyStore):
    """The key store as a reader sees it while another thread erases the person: the row
    is read, then deleted and forgotten before the reader caches what it read."""

    vault: Vault

    def get(self, dek_id: int):  # noqa: ANN201
        row = super().get(dek_id)
        if row is not None:
            del self._rows[dek_id]
            self.vault.forget([dek_id])
        return row


def test_a_key_read_while_its_person_is_erased_is_not_cached(
    provider: FileKeyProvider,
) -> None:
    store = _EraseDuringRead()
    writer = Vault(provider, MemoryWrappedKeyStore())
    key = writer.mint_person_key("identity", person_dek_id(9, 0))
    MemoryWrappedKeyStore.put(store, key.dek_id, "identity", key.kek_version, key.wrapped)
    blob = writer.encrypt("identity", "pid-9", "family_name", "Durand", key=key)
    reader = Vault(provider, store)
    store.vault = reader
    # The read that began before the erasure completes; nothing is left to read after it.
    assert reader.decrypt("identity", "pid-9", "family_name", blob) == "Durand"
    with pytest.raises(UnknownKeyError):
        reader.decrypt("identity", "pid-9", "family_name", blob)


def test_preload_unwraps_a_persons_keys_in_one_call(provider: FileKeyProvider) -> None:
    store = MemoryWrappedKeyStore()
    writer = Vault(provider, store)
    identity = _stored(writer, store, "identity", person_dek_id(11, 0))
    address = _stored(writer, store, "address", person_dek_id(11, 1))
    name = writer.encrypt("identity", "pid-11", "family_name", "Roux", key=identity)
    city = writer.encrypt("address", "pid-11", "city", "Brest", key=address)
    reader = Vault(provider, store)
    reader.preload([name, city, None])
    # Both keys came with the preload: the key store is no longer needed to read them.
    store._rows.clear()
    assert reader.decrypt("identity", "pid-11", "family_name", name) == "Roux"
    assert reader.decrypt("address", "pid-11", "city", city) == "Brest"
    # A key the store does not hold is left to decrypt, which names it.
    stranger = Vault(provider, store)
    stranger.preload([name, city])
    with pytest.raises(UnknownKeyError):
        stranger.decrypt("identity", "pid-11", "family_name", name)
