"""The PKCS#11 key provider against SoftHSM2: keys that never leave the token, data keys
wrapped inside it, rotation while readers keep reading."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from strongroom.config import Home, Settings
from strongroom.vault import (
    STORES,
    FileKeyProvider,
    HsmError,
    IntegrityError,
    MemoryWrappedKeyStore,
    RotatingKeyProvider,
    Vault,
    VaultError,
    open_key_provider,
)
from strongroom.vault.pkcs11_keys import Pkcs11KeyProvider
from tests.hsm_testkit import HsmToken

ROW = "7d0f6a1e-2b44-4c5e-8f0a-3e9b1c2d4f56"


@pytest.fixture
def hsm(hsm_token: HsmToken) -> Pkcs11KeyProvider:
    return Pkcs11KeyProvider.create(hsm_token.module, hsm_token.label, hsm_token.pin)


def _reopen(token: HsmToken) -> Pkcs11KeyProvider:
    return Pkcs11KeyProvider(token.module, token.label, token.pin)


def test_keys_are_generated_in_the_token_and_never_extractable(
    hsm: Pkcs11KeyProvider, hsm_token: HsmToken
) -> None:
    assert isinstance(hsm, RotatingKeyProvider)
    assert all(hsm.kek_version(s) == 1 for s in STORES)
    session = pkcs11.lib(hsm_token.module).get_token(token_label=hsm_token.label).open()
    with session:
        keys = list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))
        assert sorted(k.label for k in keys) == sorted(
            [f"strongroom/kek/{s}/v1" for s in STORES]
            + [f"strongroom/hmac/{n}" for n in ("blind_index", "honey", "pseudonym")]
        )
        for key in keys:
            assert key[Attribute.SENSITIVE] is True
            assert key[Attribute.EXTRACTABLE] is False
            with pytest.raises(pkcs11.exceptions.PKCS11Error):
                key[Attribute.VALUE]


def test_create_again_keeps_the_keys(hsm: Pkcs11KeyProvider, hsm_token: HsmToken) -> None:
    wrapped = MemoryWrappedKeyStore()
    blob = Vault(hsm, wrapped).encrypt("identity", ROW, "family_name", "Lefèvre")
    again = Pkcs11KeyProvider.create(hsm_token.module, hsm_token.label, hsm_token.pin)
    assert again.kek_versions("identity") == [1]
    assert again.blind_index_key() == hsm.blind_index_key()
    assert len({hsm.blind_index_key(), hsm.pseudonym_key(), hsm.honey_key()}) == 3
    assert Vault(_reopen(hsm_token), wrapped).decrypt("identity", ROW, "family_name", blob) == (
        "Lefèvre"
    )


def test_wrapped_dek_is_bound_to_its_id_store_and_version(hsm: Pkcs11KeyProvider) -> None:
    dek = os.urandom(32)
    wrapped = hsm.wrap_dek("identity", 1, 42, dek)
    assert len(wrapped) == 12 + 32 + 16 and dek not in wrapped
    assert hsm.unwrap_dek("identity", 1, 42, wrapped) == dek
    for store, dek_id in (("identity", 43), ("address", 42)):
        with pytest.raises(IntegrityError):
            hsm.unwrap_dek(store, 1, dek_id, wrapped)
    flipped = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(IntegrityError):
        hsm.unwrap_dek("identity", 1, 42, flipped)


def test_wrong_pin_or_token_is_a_clear_error(hsm_token: HsmToken) -> None:
    with pytest.raises(HsmError, match="PIN"):
        Pkcs11KeyProvider(hsm_token.module, hsm_token.label, "not-the-pin")
    with pytest.raises(HsmError, match="no PKCS#11 token labelled 'elsewhere'"):
        Pkcs11KeyProvider(hsm_token.module, "elsewhere", hsm_token.pin)
    with pytest.raises(HsmError):
        Pkcs11KeyProvider("/nonexistent/libpkcs11.so", hsm_token.label, hsm_token.pin)


@pytest.mark.parametrize("kind", ["hsm", "file"])
def test_rotation_while_readers_read(kind: str, hsm_token: HsmToken, tmp_path: Path) -> None:
    provider: RotatingKeyProvider
    if kind == "hsm":
        provider = Pkcs11KeyProvider.create(hsm_token.module, hsm_token.label, hsm_token.pin)
    else:
        provider = FileKeyProvider.create(tmp_path / "keys")

    def reopen() -> RotatingKeyProvider:
        if kind == "hsm":
            return _reopen(hsm_token)
        return FileKeyProvider(tmp_path / "keys")

    wrapped = MemoryWrappedKeyStore()
    writer = Vault(provider, wrapped, max_uses=1)  # one data key per field: many to re-wrap
    blobs = [writer.encrypt("identity", ROW, "given_names", f"Éloïse {i}") for i in range(60)]
    stop, failures, reads = threading.Event(), [], [0]

    def read() -> None:
        # A fresh vault each round, like a worker started mid-rotation: no DEK cached, so
        # every read unwraps, under whichever KEK version the row holds at that moment.
        reader_keys = reopen()
        while not stop.is_set():
            try:
                vault = Vault(reader_keys, wrapped)
                for i, blob in enumerate(blobs):
                    assert vault.decrypt("identity", ROW, "given_names", blob) == f"Éloïse {i}"
                    reads[0] += 1
            except Exception as exc:  # noqa: BLE001 - the test reports it below
                failures.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    seen: list[tuple[int, int]] = []
    reads_seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        reads_seen.append(reads[0])
        time.sleep(0.002)  # let the reader run between two re-wraps

    deadline = time.monotonic() + 60
    try:
        while reads[0] < len(blobs) and not failures and time.monotonic() < deadline:
            time.sleep(0.001)
        rotation = writer.rotate_kek("identity", progress=progress)
        after = reads[0]
        while reads[0] < after + len(blobs) and not failures and time.monotonic() < deadline:
            time.sleep(0.001)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert failures == []
    assert reads_seen[-1] > reads_seen[0]  # the reader decrypted while rows were re-wrapped
    assert (rotation.kek_version, rotation.rewrapped) == (2, 60)
    assert seen[-1] == (60, 60) and len(seen) == 60
    assert writer.kek_usage("identity") == {1: 0, 2: 60}
    assert writer.retire_unused_keks("identity") == [1]
    assert provider.kek_versions("identity") == [2]
    fresh = Vault(reopen(), wrapped)
    assert fresh.decrypt("identity", ROW, "given_names", blobs[7]) == "Éloïse 7"


def test_current_kek_is_never_retired(hsm: Pkcs11KeyProvider) -> None:
    with pytest.raises(VaultError):
        hsm.retire_kek_version("asset", 1)
    assert hsm.kek_versions("asset") == [1]


def test_config_names_the_token_and_where_the_pin_is(
    hsm_token: HsmToken, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path / "home")
    base = Settings(
        registry_url="sqlite://",
        journal_url="sqlite://",
        key_provider="pkcs11",
        pkcs11_module=hsm_token.module,
        pkcs11_token_label=hsm_token.label,
    )
    monkeypatch.setenv("SR_TEST_PIN", hsm_token.pin)
    by_env = Settings(**{**base.__dict__, "pkcs11_pin_env": "SR_TEST_PIN"})
    created = open_key_provider(home, by_env, create=True)
    assert isinstance(created, Pkcs11KeyProvider)
    pin_file = tmp_path / "pin"
    pin_file.write_text(hsm_token.pin + "\n", encoding="utf-8")
    os.chmod(pin_file, 0o644)
    by_file = Settings(**{**base.__dict__, "pkcs11_pin_file": str(pin_file)})
    with pytest.raises(HsmError, match="chmod 600"):
        open_key_provider(home, by_file)
    os.chmod(pin_file, 0o600)
    opened = open_key_provider(home, by_file)
    assert opened.honey_key() == created.honey_key()
    monkeypatch.delenv("SR_TEST_PIN")
    with pytest.raises(HsmError, match=r"\$SR_TEST_PIN, which is not set"):
        open_key_provider(home, by_env)
    assert not home.keys_dir.exists()
