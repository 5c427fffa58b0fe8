"""The vault over the registry's SQL `data_keys` table, on SQLite and PostgreSQL: the same
contract `MemoryWrappedKeyStore` keeps (get -> None when unknown, get_many only what is
there, put upserts, all lists every row), and a rotation that survives a restart of the process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from strongroom.registry.db import make_engine
from strongroom.registry.keystore import SqlWrappedKeyStore
from strongroom.registry.models import Base
from strongroom.vault import FileKeyProvider, Vault

ROW = "2f1c7a52-5a4e-4a8e-9c41-4d2a1b6f0a11"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url, pool_size=2)
    Base.metadata.create_all(engine, tables=[Base.metadata.tables["data_keys"]])
    try:
        yield engine
    finally:
        engine.dispose()


def test_store_contract(engine: Engine) -> None:
    store = SqlWrappedKeyStore(engine)
    assert store.get(7) is None
    store.put(7, "identity", 1, b"w1")
    store.put(2**31 - 1, "asset", 1, b"w2")
    store.put(7, "identity", 2, b"w3")  # rotation rewrites in place
    assert store.get(7) == ("identity", 2, b"w3")
    assert list(store.all()) == [(7, "identity", 2, b"w3"), (2**31 - 1, "asset", 1, b"w2")]
    assert store.get_many([7, 8, 2**31 - 1]) == {
        7: ("identity", 2, b"w3"),
        2**31 - 1: ("asset", 1, b"w2"),
    }
    assert store.get_many([8]) == {}


def test_rotation_across_restarts(engine: Engine, provider: FileKeyProvider) -> None:
    vault = Vault(provider, SqlWrappedKeyStore(engine), max_uses=2)
    blobs = [vault.encrypt("identity", ROW, "family_name", f"n{i}") for i in range(3)]
    serial = vault.encrypt("asset", ROW, "serial", "SN-9")
    assert vault.rotate_kek("identity").rewrapped == 2
    assert vault.retire_unused_keks("identity") == [1]
    restarted = Vault(FileKeyProvider(provider.keys_dir), SqlWrappedKeyStore(engine))
    assert [restarted.decrypt("identity", ROW, "family_name", b) for b in blobs] == [
        "n0",
        "n1",
        "n2",
    ]
    assert restarted.decrypt("asset", ROW, "serial", serial) == "SN-9"
    assert {v for _, s, v, _ in SqlWrappedKeyStore(engine).all() if s == "identity"} == {2}


def test_a_rotation_walks_the_table_page_by_page(
    engine: Engine, provider: FileKeyProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a key per person the table grows with the registry: `all` reads it in pages
    and the counts come from the database. A page of 3 here, 11 person keys."""
    import strongroom.registry.keystore as keystore
    from strongroom.vault.data_keys import person_dek_id

    monkeypatch.setattr(keystore, "PAGE", 3)
    store = SqlWrappedKeyStore(engine)
    vault = Vault(provider, store)
    blobs = {}
    for pk in range(1, 12):
        key = vault.mint_person_key("identity", person_dek_id(pk, 0))
        store.put(key.dek_id, "identity", key.kek_version, key.wrapped)
        blobs[pk] = vault.encrypt("identity", f"row-{pk}", "city", f"c{pk}", key=key)
    vault.encrypt("address", ROW, "city", "Lyon")  # another store's generation
    assert len(list(store.all())) == 12
    assert store.usage("identity") == {1: 11} and store.usage("address") == {1: 1}
    heard: list[tuple[int, int]] = []
    assert vault.rotate_kek("identity", lambda d, t: heard.append((d, t))).rewrapped == 11
    assert heard[-1] == (11, 11)
    assert vault.kek_usage("identity") == {1: 0, 2: 11}
    assert vault.retire_unused_keks("identity") == [1]
    fresh = Vault(FileKeyProvider(provider.keys_dir), SqlWrappedKeyStore(engine))
    assert [fresh.decrypt("identity", f"row-{pk}", "city", b) for pk, b in blobs.items()] == [
        f"c{pk}" for pk in blobs
    ]
