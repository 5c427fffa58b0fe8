"""The blind-index key versions a process uses, learned from the registry database (real
SQLite and PostgreSQL) within the cache's lifetime, without a restart; and the key
providers' versions (file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from strongroom.registry import index_versions
from strongroom.registry.db import make_engine, upgrade
from strongroom.registry.index_versions import SqlIndexKeyStates
from strongroom.vault import FileKeyProvider, KeyFileError, UnknownKeyError
from strongroom.vault.index_ring import IndexKeyRing


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_running_vault_learns_of_a_rotation_and_its_end(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    provider = FileKeyProvider.create(tmp_path / "keys")
    try:
        clock = Clock()  # the ring's cache lifetime, on a clock the test moves
        ring = IndexKeyRing(
            FileKeyProvider(tmp_path / "keys"), SqlIndexKeyStates(engine), clock=clock
        )

        def searched() -> list[bytes]:
            return [ix.digest("serial", "SN-1") for ix in ring.readers()]

        old = ring.writer().digest("serial", "SN-1")
        assert ring.live() == {1: "active"}

        version = provider.add_blind_index_version()
        with Session(engine) as s, s.begin():
            index_versions.begin(s, version, 0.0)
        # Within the cache's lifetime the server still uses what it read...
        clock.t += ring.ttl / 2
        assert searched() == [old]
        # ...after it, both versions: writes under the new one, searches look for either.
        clock.t += ring.ttl
        new = ring.writer().digest("serial", "SN-1")
        assert new != old and ring.writer().version == 2
        assert searched() == [new, old]

        with Session(engine) as s, s.begin():
            assert index_versions.complete(s, version, 1.0) == [1]
        provider.retire_blind_index_version(1)
        clock.t += ring.ttl
        assert searched() == [new]
        assert ring.live() == {2: "active"}
    finally:
        engine.dispose()


def test_the_file_provider_keeps_blind_index_versions(tmp_path: Path) -> None:
    provider = FileKeyProvider.create(tmp_path / "keys")
    first = provider.blind_index_key()
    assert provider.blind_index_versions() == [1]
    assert json.loads(provider.path.read_text())["blind_index"] == provider_b64(first)

    assert provider.add_blind_index_version() == 2
    other = FileKeyProvider(tmp_path / "keys")  # another process's view
    assert other.blind_index_key(1) == first
    assert len({other.blind_index_key(2), first}) == 2
    with pytest.raises(KeyFileError):
        provider.retire_blind_index_version(2)  # never the newest
    provider.retire_blind_index_version(1)
    assert FileKeyProvider(tmp_path / "keys").blind_index_versions() == [2]
    with pytest.raises(UnknownKeyError):
        FileKeyProvider(tmp_path / "keys").blind_index_key(1)
    # Opening the rotated file again (as `strongroom init` does on every run) keeps it.
    assert FileKeyProvider.create(tmp_path / "keys").blind_index_versions() == [2]


def provider_b64(key: bytes) -> str:
    import base64

    return base64.b64encode(key).decode("ascii")
