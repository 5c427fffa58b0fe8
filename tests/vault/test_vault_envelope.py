"""Field encryption: round trips, and every way a ciphertext can be moved or altered."""

from __future__ import annotations

import pytest

from strongroom.vault import (
    FORMAT_V1,
    FileKeyProvider,
    IntegrityError,
    MemoryWrappedKeyStore,
    UnknownKeyError,
    Vault,
)

ROW_A = "2f1c7a52-5a4e-4a8e-9c41-4d2a1b6f0a11"
ROW_B = "8b0e3d27-7f0c-4a51-b1a2-0e5d9c3f2b22"


@pytest.mark.parametrize(
    "value",
    [
        "Dupont",
        "",
        "Éléonore-Marie d'Arcy",
        "75011",
        "北京市",
        "x" * 300,
        "ends with 0x80-like \u0080",
    ],
)
def test_round_trip(vault: Vault, value: str) -> None:
    blob = vault.encrypt("identity", ROW_A, "family_name", value)
    assert isinstance(blob, bytes)
    assert value.encode() not in blob or value == ""
    assert vault.decrypt("identity", ROW_A, "family_name", blob) == value


def test_none_stays_none_and_is_not_counted(vault: Vault) -> None:
    assert vault.encrypt("address", ROW_A, "street", None) is None
    assert vault.decrypt("address", ROW_A, "street", None) is None
    assert vault.decrypt_count == 0


def test_format_header_and_padding_hide_lengths(vault: Vault) -> None:
    short = vault.encrypt("identity", ROW_A, "family_name", "Li")
    longer = vault.encrypt("identity", ROW_A, "family_name", "Lefebvre")
    assert short is not None and longer is not None
    assert short[0] == FORMAT_V1
    assert short[1:5] == longer[1:5]  # same DEK generation
    assert short[5:17] != longer[5:17]  # fresh nonce each time
    assert len(short) == len(longer) == 1 + 4 + 12 + 16 + 16


def test_same_value_encrypts_differently(vault: Vault) -> None:
    a = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    b = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    assert a != b


def test_swapping_rows_fails(vault: Vault) -> None:
    a = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    b = vault.encrypt("identity", ROW_B, "family_name", "Martin")
    with pytest.raises(IntegrityError):
        vault.decrypt("identity", ROW_B, "family_name", a)
    with pytest.raises(IntegrityError):
        vault.decrypt("identity", ROW_A, "family_name", b)


def test_swapping_fields_fails(vault: Vault) -> None:
    name = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    given = vault.encrypt("identity", ROW_A, "given_names", "Jean")
    with pytest.raises(IntegrityError):
        vault.decrypt("identity", ROW_A, "given_names", name)
    with pytest.raises(IntegrityError):
        vault.decrypt("identity", ROW_A, "family_name", given)


def test_moving_between_stores_fails(vault: Vault) -> None:
    street = vault.encrypt("address", ROW_A, "street", "1 rue des Lilas")
    with pytest.raises(IntegrityError):
        vault.decrypt("identity", ROW_A, "street", street)


def test_flipping_any_byte_fails(vault: Vault) -> None:
    blob = vault.encrypt("identity", ROW_A, "birth_date", "1980-05-01")
    assert blob is not None
    for i in range(len(blob)):
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[i] ^= bit
            # A flipped DEK id may name no key at all; any other byte fails authentication.
            with pytest.raises((IntegrityError, UnknownKeyError)):
                vault.decrypt("identity", ROW_A, "birth_date", bytes(tampered))


def test_truncated_or_extended_fails(vault: Vault) -> None:
    blob = vault.encrypt("identity", ROW_A, "birth_date", "1980-05-01")
    assert blob is not None
    for cut in (0, 1, 5, 17, len(blob) - 16, len(blob) - 1):
        with pytest.raises(IntegrityError):
            vault.decrypt("identity", ROW_A, "birth_date", blob[:cut])
    with pytest.raises(IntegrityError):
        vault.decrypt("identity", ROW_A, "birth_date", blob + b"\0")


def test_error_message_carries_no_value(vault: Vault) -> None:
    blob = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    with pytest.raises(IntegrityError) as info:
        vault.decrypt("identity", ROW_B, "family_name", blob)
    assert "Dupont" not in str(info.value) and ROW_B not in str(info.value)
    assert isinstance(info.value.__cause__, Exception)  # InvalidTag, translated once


def test_decrypt_count_counts_every_decryption(vault: Vault) -> None:
    blobs = [vault.encrypt("identity", ROW_A, f, "v") for f in ("family_name", "given_names")]
    assert vault.decrypt_count == 0
    for blob in blobs:
        vault.decrypt("identity", ROW_A, "family_name" if blob is blobs[0] else "given_names", blob)
    assert vault.decrypt_count == 2
    with pytest.raises(IntegrityError):
        vault.decrypt("identity", ROW_B, "family_name", blobs[0])
    assert vault.decrypt_count == 3  # a failed attempt is still an attempt


def test_another_process_decrypts_through_wrapped_keys(
    vault: Vault, provider: FileKeyProvider, wrapped: MemoryWrappedKeyStore
) -> None:
    blob = vault.encrypt("asset", ROW_A, "serial", "SN-123456")
    other = Vault(FileKeyProvider(provider.keys_dir), wrapped)
    assert other.decrypt("asset", ROW_A, "serial", blob) == "SN-123456"


def test_wrong_keys_cannot_decrypt(vault: Vault, wrapped: MemoryWrappedKeyStore, tmp_path) -> None:
    blob = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    stranger = Vault(FileKeyProvider.create(tmp_path / "other-keys"), wrapped)
    with pytest.raises(IntegrityError):
        stranger.decrypt("identity", ROW_A, "family_name", blob)


def test_unknown_data_key(provider: FileKeyProvider, vault: Vault) -> None:
    blob = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    empty = Vault(provider, MemoryWrappedKeyStore())
    with pytest.raises(UnknownKeyError):
        empty.decrypt("identity", ROW_A, "family_name", blob)


def test_wrapped_key_moved_to_another_id_or_store_fails(
    provider: FileKeyProvider, vault: Vault, wrapped: MemoryWrappedKeyStore
) -> None:
    blob = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    assert blob is not None
    dek_id = int.from_bytes(blob[1:5], "big")
    store, version, w = wrapped.get(dek_id)  # type: ignore[misc]
    moved = MemoryWrappedKeyStore()
    moved.put(dek_id + 1, store, version, w)
    relabelled = MemoryWrappedKeyStore()
    relabelled.put(dek_id, "address", version, w)
    forged = blob[:1] + (dek_id + 1).to_bytes(4, "big") + blob[5:]
    with pytest.raises(IntegrityError):
        Vault(provider, moved).decrypt("identity", ROW_A, "family_name", forged)
    with pytest.raises(IntegrityError):
        Vault(provider, relabelled).decrypt("identity", ROW_A, "family_name", blob)


def test_generations_roll_over_and_stay_readable(provider: FileKeyProvider) -> None:
    wrapped = MemoryWrappedKeyStore()
    vault = Vault(provider, wrapped, max_uses=3)
    blobs = [vault.encrypt("address", ROW_A, "city", f"city {i}") for i in range(7)]
    ids = {int.from_bytes(b[1:5], "big") for b in blobs if b}
    assert len(ids) == 3
    assert {row[0] for row in wrapped.all()} == ids
    first = vault.new_generation("address")
    assert first not in ids
    fresh = Vault(provider, wrapped)
    assert [fresh.decrypt("address", ROW_A, "city", b) for b in blobs] == [
        f"city {i}" for i in range(7)
    ]


def test_each_store_has_its_own_data_key(vault: Vault) -> None:
    heads = {vault.encrypt(s, ROW_A, "f", "v")[1:5] for s in ("identity", "address", "asset")}
    assert len(heads) == 3


def test_reveal_wraps_in_secret(vault: Vault) -> None:
    blob = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    secret = vault.reveal("identity", ROW_A, "family_name", blob)
    assert secret is not None and secret.reveal() == "Dupont" and "Dupont" not in repr(secret)
    assert vault.reveal("identity", ROW_A, "family_name", None) is None


def test_non_str_value_refused(vault: Vault) -> None:
    with pytest.raises(TypeError):
        vault.encrypt("identity", ROW_A, "birth_date", b"1980")  # type: ignore[arg-type]


def test_threads_share_one_vault(provider: FileKeyProvider) -> None:
    from concurrent.futures import ThreadPoolExecutor

    wrapped = MemoryWrappedKeyStore()
    vault = Vault(provider, wrapped, max_uses=5)

    def work(i: int) -> str | None:
        row = f"row-{i}"
        blob = vault.encrypt("identity", row, "given_names", f"value {i}")
        return Vault(provider, wrapped).decrypt("identity", row, "given_names", blob)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(400)))
    assert results == [f"value {i}" for i in range(400)]
    # Every DEK served exactly max_uses encryptions: none was overused by a race.
    assert len(wrapped.all()) == 400 // 5


def test_keys_loaded_in_bulk_decrypt_without_the_key_store(
    provider: FileKeyProvider, vault: Vault, wrapped: MemoryWrappedKeyStore
) -> None:
    """Keys read in bulk (a re-index's or the analytics builder's batch of persons) are
    unwrapped into the cache: decrypting needs no key store; a vault given none cannot."""
    blob = vault.encrypt("identity", ROW_A, "family_name", "Dupont")
    rows = wrapped.all()
    empty = Vault(provider, MemoryWrappedKeyStore())
    with pytest.raises(UnknownKeyError):
        empty.decrypt("identity", ROW_A, "family_name", blob)
    loaded = Vault(provider, MemoryWrappedKeyStore())
    loaded.load_keys(rows)
    assert loaded.decrypt("identity", ROW_A, "family_name", blob) == "Dupont"
    # A wrapped key that is not what the KEK wrapped is refused, not cached.
    store, version, key = rows[0][1], rows[0][2], bytearray(rows[0][3])
    key[-1] ^= 1
    with pytest.raises(IntegrityError):
        Vault(provider, MemoryWrappedKeyStore()).load_keys(
            [(rows[0][0], store, version, bytes(key))]
        )
