"""The key file: created 0600 in a 0700 folder, kept across opens, refused when exposed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from strongroom.vault import STORES, FileKeyProvider, KeyFileError, UnknownKeyError


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_missing_key_file_created_private(keys_dir: Path) -> None:
    assert not keys_dir.exists()
    provider = FileKeyProvider.create(keys_dir)
    assert mode(keys_dir / "vault.json") == 0o600
    assert mode(keys_dir) == 0o700
    assert [p.name for p in keys_dir.iterdir()] == ["vault.json"]  # no temp file left
    keys = [provider.kek(s) for s in STORES] + [
        provider.blind_index_key(),
        provider.pseudonym_key(),
        provider.honey_key(),
    ]
    assert all(len(k) == 32 for k in keys)
    assert len(set(keys)) == len(keys)
    assert all(provider.kek_version(s) == 1 for s in STORES)


def test_create_keeps_existing_keys(keys_dir: Path) -> None:
    first = FileKeyProvider.create(keys_dir)
    again = FileKeyProvider.create(keys_dir)
    opened = FileKeyProvider(keys_dir)
    assert first.kek("identity") == again.kek("identity") == opened.kek("identity")
    assert first.blind_index_key() == opened.blind_index_key()


def test_create_tightens_the_folder(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(mode=0o755)
    os.chmod(keys_dir, 0o755)
    FileKeyProvider.create(keys_dir)
    assert mode(keys_dir) == 0o700


def test_missing_key_file_is_a_clear_error(keys_dir: Path) -> None:
    keys_dir.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="strongroom init"):
        FileKeyProvider(keys_dir)


@pytest.mark.parametrize("bad_mode", [0o640, 0o604, 0o644, 0o620, 0o660])
def test_key_file_readable_by_others_is_refused(keys_dir: Path, bad_mode: int) -> None:
    FileKeyProvider.create(keys_dir)
    os.chmod(keys_dir / "vault.json", bad_mode)
    with pytest.raises(KeyFileError, match="group or others"):
        FileKeyProvider(keys_dir)
    with pytest.raises(KeyFileError, match="group or others"):
        FileKeyProvider.create(keys_dir)


def test_writable_key_folder_is_refused(keys_dir: Path) -> None:
    FileKeyProvider.create(keys_dir)
    os.chmod(keys_dir, 0o777)
    try:
        with pytest.raises(KeyFileError, match="writable"):
            FileKeyProvider(keys_dir)
    finally:
        os.chmod(keys_dir, 0o700)


def test_symlinked_key_file_is_refused(keys_dir: Path, tmp_path: Path) -> None:
    FileKeyProvider.create(tmp_path / "elsewhere")
    keys_dir.mkdir(mode=0o700)
    (keys_dir / "vault.json").symlink_to(tmp_path / "elsewhere" / "vault.json")
    with pytest.raises(KeyFileError):
        FileKeyProvider(keys_dir)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: "not json",
        lambda d: json.dumps({**d, "format": 99}),
        lambda d: json.dumps({**d, "blind_index": "c2hvcnQ="}),  # 5 bytes
        lambda d: json.dumps({**d, "honey": "***"}),
        lambda d: json.dumps({**d, "kek": {"identity": {"current": 3, "versions": {}}}}),
    ],
)
def test_malformed_key_file_is_refused(keys_dir: Path, edit) -> None:
    FileKeyProvider.create(keys_dir)
    path = keys_dir / "vault.json"
    path.write_text(edit(json.loads(path.read_text())))
    with pytest.raises(KeyFileError):
        FileKeyProvider(keys_dir)


def test_key_versions_rotate_and_retire(provider: FileKeyProvider) -> None:
    v1 = provider.kek("asset")
    assert provider.add_kek_version("asset") == 2
    assert provider.kek_version("asset") == 2
    assert provider.kek("asset", 1) == v1 != provider.kek("asset")
    assert provider.kek_versions("asset") == [1, 2]
    with pytest.raises(KeyFileError):
        provider.retire_kek_version("asset", 2)
    provider.retire_kek_version("asset", 1)
    with pytest.raises(UnknownKeyError):
        provider.kek("asset", 1)
    assert mode(provider.path) == 0o600
    assert FileKeyProvider(provider.keys_dir).kek_version("asset") == 2


def test_other_worker_sees_a_rotation(provider: FileKeyProvider) -> None:
    other = FileKeyProvider(provider.keys_dir)
    provider.add_kek_version("identity")
    # `other` read the file before the rotation; asking for the new version re-reads it.
    assert other.kek("identity", 2) == provider.kek("identity", 2)


def test_unknown_store(provider: FileKeyProvider) -> None:
    with pytest.raises(UnknownKeyError):
        provider.kek("payroll")
    with pytest.raises(UnknownKeyError):
        provider.kek_version("payroll")


def _open_and_fingerprint(keys_dir: str) -> bytes:
    return FileKeyProvider.create(keys_dir).kek("identity")


def test_workers_starting_together_agree_on_one_key(keys_dir: Path) -> None:
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(4) as pool:
        keks = pool.map(_open_and_fingerprint, [str(keys_dir)] * 8)
    assert len(set(keks)) == 1
    assert keks[0] == FileKeyProvider(keys_dir).kek("identity")


def test_concurrent_rotations_never_lose_a_version(provider: FileKeyProvider) -> None:
    from concurrent.futures import ThreadPoolExecutor

    others = [FileKeyProvider(provider.keys_dir) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        minted = list(pool.map(lambda p: p.add_kek_version("address"), others * 3))
    assert sorted(minted) == list(range(2, 14))
    provider.reload()
    assert provider.kek_versions("address") == list(range(1, 14))
