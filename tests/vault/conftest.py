from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.vault import FileKeyProvider, MemoryWrappedKeyStore, Vault


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def provider(keys_dir: Path) -> FileKeyProvider:
    return FileKeyProvider.create(keys_dir)


@pytest.fixture
def wrapped() -> MemoryWrappedKeyStore:
    return MemoryWrappedKeyStore()


@pytest.fixture
def vault(provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore) -> Vault:
    return Vault(provider, wrapped)
