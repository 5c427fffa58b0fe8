"""KEK rotation: DEKs re-wrapped under a new KEK version, data rows untouched, old
ciphertexts readable throughout and after."""

from __future__ import annotations

import pytest

from strongroom.vault import (
    FileKeyProvider,
    IntegrityError,
    MemoryWrappedKeyStore,
    UnknownKeyError,
    Vault,
    VaultError,
)

ROW = "2f1c7a52-5a4e-4a8e-9c41-4d2a1b6f0a11"


def versions(wrapped: MemoryWrappedKeyStore, store: str) -> list[int]:
    return [v for _, s, v, _ in wrapped.all() if s == store]


def test_rotation_rewraps_and_keeps_old_ciphertexts_readable(
    provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore
) -> None:
    vault = Vault(provider, wrapped, max_uses=2)
    blobs = [vault.encrypt("identity", ROW, "family_name", f"name {i}") for i in range(5)]
    other = vault.encrypt("address", ROW, "city", "Lyon")
    before = {i: w for i, s, _, w in wrapped.all()}
    assert versions(wrapped, "identity") == [1, 1, 1]

    rotation = vault.rotate_kek("identity")

    assert (rotation.store, rotation.kek_version, rotation.rewrapped) == ("identity", 2, 3)
    assert versions(wrapped, "identity") == [2, 2, 2]
    assert versions(wrapped, "address") == [1]
    after = {i: w for i, s, _, w in wrapped.all()}
    changed = {i for i in before if before[i] != after[i]}
    assert len(changed) == 3
    # A worker started after the rotation reads every old ciphertext through the new KEK.
    fresh = Vault(FileKeyProvider(provider.keys_dir), wrapped)
    assert [fresh.decrypt("identity", ROW, "family_name", b) for b in blobs] == [
        f"name {i}" for i in range(5)
    ]
    assert fresh.decrypt("address", ROW, "city", other) == "Lyon"
    # The rotating vault keeps working, and new data keys are wrapped under version 2.
    assert vault.decrypt("identity", ROW, "family_name", blobs[0]) == "name 0"
    vault.new_generation("identity")
    assert set(versions(wrapped, "identity")) == {2}


def test_old_kek_readable_until_rewrap_done_then_retired(
    provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore
) -> None:
    vault = Vault(provider, wrapped)
    blob = vault.encrypt("asset", ROW, "serial", "SN-1")
    # Half-way: the new KEK exists, no DEK re-wrapped yet; readers still use version 1.
    provider.add_kek_version("asset")
    assert Vault(provider, wrapped).decrypt("asset", ROW, "serial", blob) == "SN-1"
    assert vault.retire_unused_keks("asset") == []  # version 1 still in use
    assert vault.rewrap("asset") == 1
    assert vault.rewrap("asset") == 0  # resumable, idempotent
    assert vault.retire_unused_keks("asset") == [1]
    assert provider.kek_versions("asset") == [2]
    assert (
        Vault(FileKeyProvider(provider.keys_dir), wrapped).decrypt("asset", ROW, "serial", blob)
        == "SN-1"
    )


def test_without_the_kek_nothing_decrypts(
    provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore
) -> None:
    vault = Vault(provider, wrapped)
    blob = vault.encrypt("identity", ROW, "family_name", "Dupont")
    provider.add_kek_version("identity")
    # Retiring a version still referenced (skipping the re-wrap) loses the data key.
    provider.retire_kek_version("identity", 1)
    with pytest.raises(UnknownKeyError):
        Vault(provider, wrapped).decrypt("identity", ROW, "family_name", blob)


def test_relabelled_kek_version_fails(
    provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore
) -> None:
    vault = Vault(provider, wrapped)
    blob = vault.encrypt("identity", ROW, "family_name", "Dupont")
    vault.rotate_kek("identity")
    ((dek_id, store, version, w),) = wrapped.all()
    relabelled = MemoryWrappedKeyStore()
    relabelled.put(dek_id, store, 1, w)  # claims the old KEK wrapped it
    with pytest.raises(IntegrityError):
        Vault(provider, relabelled).decrypt("identity", ROW, "family_name", blob)


class StaticProvider:
    """A provider without rotation support."""

    def __init__(self, inner: FileKeyProvider) -> None:
        self.inner = inner

    def kek_version(self, store: str) -> int:
        return self.inner.kek_version(store)

    def wrap_dek(self, store: str, version: int, dek_id: int, dek: bytes) -> bytes:
        return self.inner.wrap_dek(store, version, dek_id, dek)

    def unwrap_dek(self, store: str, version: int, dek_id: int, wrapped: bytes) -> bytes:
        return self.inner.unwrap_dek(store, version, dek_id, wrapped)

    def blind_index_key(self) -> bytes:
        return self.inner.blind_index_key()

    def pseudonym_key(self) -> bytes:
        return self.inner.pseudonym_key()

    def honey_key(self) -> bytes:
        return self.inner.honey_key()


def test_provider_without_rotation_is_refused(
    provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore
) -> None:
    vault = Vault(StaticProvider(provider), wrapped)
    assert (
        vault.decrypt("asset", ROW, "serial", vault.encrypt("asset", ROW, "serial", "SN-1"))
        == "SN-1"
    )
    with pytest.raises(VaultError, match="cannot rotate"):
        vault.rotate_kek("asset")
