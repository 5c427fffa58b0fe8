"""Key providers: where the vault's root keys come from.

A `KeyProvider` holds the key-encryption keys (KEKs, one per store: identity, address,
asset; several versions kept so rotation needs no downtime) and wraps and unwraps data keys
under them, so the KEKs need never leave it; it hands out the blind-index key, the
pseudonym key (policy) and the honey key (canary marks). Data keys never live here: they
are wrapped by a KEK and stored in the database (`envelope.py`). Which provider a home uses
is config.toml's `key_provider` (`configured.py`): this file's, or an HSM's
(`pkcs11_keys.py`).

`FileKeyProvider` keeps them in `keys/vault.json`:

    {"format": 1,
     "kek": {"identity": {"current": 2, "versions": {"1": "<b64>", "2": "<b64>"}}, ...},
     "blind_index": "<b64>", "pseudonym": "<b64>", "honey": "<b64>"}

The blind-index key is version 1 as written by `create`; a rotation (`add_blind_index_version`)
turns it into `{"versions": {"1": "<b64>", "2": "<b64>"}}`, and retiring a version deletes it.

Every key is 32 random bytes from `os.urandom`. The file is created by
`FileKeyProvider.create` with mode 0600 (O_EXCL, so two workers starting at once agree on
one set of keys) in a 0700 folder, rewritten atomically (temp file + rename) under an
advisory lock, and refused when group or others can read it. A KEK version this process has
not seen (another worker rotated) triggers one re-read of the file.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from strongroom.vault.data_keys import unwrap, wrap
from strongroom.vault.errors import KeyFileError, UnknownKeyError

FILENAME = "vault.json"
LOCKNAME = ".vault.lock"
FORMAT = 1
KEY_BYTES = 32
STORES = ("identity", "address", "asset")
SINGLE_KEYS = ("blind_index", "pseudonym", "honey")


@runtime_checkable
class KeyProvider(Protocol):
    """The vault's root keys. KEKs are used only through `wrap_dek`/`unwrap_dek`, so a
    provider may keep them where they cannot be read (an HSM: `pkcs11_keys.py`)."""

    def kek_version(self, store: str) -> int: ...

    def wrap_dek(self, store: str, version: int, dek_id: int, dek: bytes) -> bytes:
        """`dek` wrapped under KEK `version` of `store` (format: `data_keys.py`)."""
        ...

    def unwrap_dek(self, store: str, version: int, dek_id: int, wrapped: bytes) -> bytes: ...
    def blind_index_key(self, version: int = 1) -> bytes: ...
    def pseudonym_key(self) -> bytes: ...
    def honey_key(self) -> bytes: ...


@runtime_checkable
class RotatingKeyProvider(KeyProvider, Protocol):
    """A provider that can mint and retire KEK versions (needed by `Vault.rotate_kek`)."""

    def kek_versions(self, store: str) -> list[int]: ...
    def add_kek_version(self, store: str) -> int: ...
    def retire_kek_version(self, store: str, version: int) -> None: ...
    def blind_index_versions(self) -> list[int]: ...
    def add_blind_index_version(self) -> int: ...
    def retire_blind_index_version(self, version: int) -> None: ...


def _new_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _fresh_document() -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "kek": {s: {"current": 1, "versions": {"1": _new_key()}} for s in STORES},
    }
    doc.update({name: _new_key() for name in SINGLE_KEYS})
    return doc


def _decode(value: object, where: str) -> bytes:
    try:
        raw = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{where} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise KeyFileError(f"{where} must be {KEY_BYTES} bytes")
    return raw


class _Keys:
    """The parsed, validated content of one key file."""

    def __init__(self, doc: Any, path: Path) -> None:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeyFileError(f"{path}: not a vault key file (format {FORMAT})")
        self.singles = {
            n: _decode(doc.get(n), f"{path}: {n}") for n in SINGLE_KEYS if n != "blind_index"
        }
        self.index_keys = _index_keys(doc.get("blind_index"), path)
        self.keks: dict[str, dict[int, bytes]] = {}
        self.current: dict[str, int] = {}
        keks = doc.get("kek")
        if not isinstance(keks, dict):
            raise KeyFileError(f"{path}: missing 'kek'")
        for store, entry in keks.items():
            try:
                versions = {
                    int(v): _decode(k, f"{path}: kek {store} v{v}")
                    for v, k in entry["versions"].items()
                }
                current = int(entry["current"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise KeyFileError(f"{path}: malformed kek entry for {store!r}") from exc
            if current not in versions:
                raise KeyFileError(f"{path}: current kek version of {store!r} is missing")
            self.keks[store], self.current[store] = versions, current
        self.doc = doc


def _index_keys(entry: object, path: Path) -> dict[int, bytes]:
    """The blind-index key versions: one key (version 1) or {"versions": {...}}."""
    if isinstance(entry, dict):
        try:
            return {
                int(v): _decode(k, f"{path}: blind_index v{v}")
                for v, k in entry["versions"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeyFileError(f"{path}: malformed blind_index entry") from exc
    return {1: _decode(entry, f"{path}: blind_index")}


def _check_mode(st: os.stat_result, path: Path) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path} is not a regular file")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            "refusing to use it: run `chmod 600` on it and check who could have copied it"
        )


def _check_dir(keys_dir: Path) -> None:
    st = os.stat(keys_dir)
    # A folder others can write to lets them swap the key file for one they know.
    if st.st_mode & 0o022:
        raise KeyFileError(
            f"{keys_dir} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o});"
            " it must be 0700"
        )


def _read(path: Path) -> _Keys:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError as exc:
        raise KeyFileError(
            f"no vault key file at {path}: run `strongroom init` (or FileKeyProvider.create) first"
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"cannot open {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as fh:
        _check_mode(os.fstat(fh.fileno()), path)
        try:
            doc = json.loads(fh.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"{path}: not valid JSON") from exc
    return _Keys(doc, path)


def _write_private(path: Path, doc: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())


def _write_new(path: Path, doc: dict[str, Any]) -> bool:
    """Write `doc` to `path` only if absent; False when another process got there first.
    The file is complete before it appears (written aside, then hard-linked into place), so
    a worker that loses the race never reads a half-written key file."""
    if path.exists():
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    _write_private(tmp, doc)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def _replace(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    _write_private(tmp, doc)
    os.replace(tmp, path)


class FileKeyProvider:
    """Root keys from `keys_dir/vault.json` (see the module docstring)."""

    def __init__(self, keys_dir: str | os.PathLike[str]) -> None:
        self.keys_dir = Path(keys_dir)
        self.path = self.keys_dir / FILENAME
        self._lock = threading.Lock()
        if self.keys_dir.exists():
            _check_dir(self.keys_dir)
        self._keys = _read(self.path)

    @classmethod
    def create(cls, keys_dir: str | os.PathLike[str]) -> FileKeyProvider:
        """Open the key file, creating the folder (0700) and the file (0600) on first use.
        Existing keys are kept: losing them would make every ciphertext unreadable."""
        keys_dir = Path(keys_dir)
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(keys_dir, 0o700)
        _write_new(keys_dir / FILENAME, _fresh_document())
        return cls(keys_dir)

    # --- KeyProvider -----------------------------------------------------------------------
    def kek(self, store: str, version: int | None = None) -> bytes:
        keys = self._keys
        versions = keys.keks.get(store)
        if versions is None:
            raise UnknownKeyError(f"no key-encryption key for store {store!r}")
        if version is None:
            return versions[keys.current[store]]
        key = versions.get(version)
        if key is None:
            # Another worker may have rotated since we read the file.
            self.reload()
            key = self._keys.keks.get(store, {}).get(version)
            if key is None:
                raise UnknownKeyError(f"KEK version {version} of store {store!r} is gone")
        return key

    def kek_version(self, store: str) -> int:
        try:
            return self._keys.current[store]
        except KeyError:
            raise UnknownKeyError(f"no key-encryption key for store {store!r}") from None

    def wrap_dek(self, store: str, version: int, dek_id: int, dek: bytes) -> bytes:
        return wrap(self.kek(store, version), store, dek_id, version, dek)

    def unwrap_dek(self, store: str, version: int, dek_id: int, wrapped: bytes) -> bytes:
        return unwrap(self.kek(store, version), store, dek_id, version, wrapped)

    def blind_index_key(self, version: int = 1) -> bytes:
        key = self._keys.index_keys.get(version)
        if key is None:
            # Another process may have rotated since we read the file.
            self.reload()
            key = self._keys.index_keys.get(version)
            if key is None:
                raise UnknownKeyError(f"blind-index key version {version} is gone")
        return key

    def pseudonym_key(self) -> bytes:
        return self._keys.singles["pseudonym"]

    def honey_key(self) -> bytes:
        return self._keys.singles["honey"]

    # --- RotatingKeyProvider ---------------------------------------------------------------
    def kek_versions(self, store: str) -> list[int]:
        return sorted(self._keys.keks.get(store, {}))

    def add_kek_version(self, store: str) -> int:
        """Mint a new KEK version for `store` and make it current; older ones stay."""
        with self._edit() as doc:
            entry = doc["kek"].setdefault(store, {"current": 0, "versions": {}})
            version = max((int(v) for v in entry["versions"]), default=0) + 1
            entry["versions"][str(version)] = _new_key()
            entry["current"] = version
        return version

    def retire_kek_version(self, store: str, version: int) -> None:
        """Drop an old KEK version. The caller checks that no data key still needs it."""
        with self._edit() as doc:
            entry = doc["kek"].get(store)
            if entry is None or str(version) not in entry["versions"]:
                return
            if int(entry["current"]) == version:
                raise KeyFileError(f"refusing to retire the current KEK of {store!r}")
            del entry["versions"][str(version)]

    def blind_index_versions(self) -> list[int]:
        self.reload()
        return sorted(self._keys.index_keys)

    def add_blind_index_version(self) -> int:
        """Mint the next blind-index key version; which versions are in use is the
        registry's to say (`index_ring.py`)."""
        with self._edit() as doc:
            entry = doc["blind_index"]
            if not isinstance(entry, dict):
                entry = doc["blind_index"] = {"versions": {"1": entry}}
            version = max(int(v) for v in entry["versions"]) + 1
            entry["versions"][str(version)] = _new_key()
        return version

    def retire_blind_index_version(self, version: int) -> None:
        """Delete an old blind-index key version. The caller checks that no row holds its
        values (the re-index is complete)."""
        with self._edit() as doc:
            entry = doc["blind_index"]
            versions = entry["versions"] if isinstance(entry, dict) else {"1": entry}
            if str(version) not in versions:
                return
            if version == max(int(v) for v in versions):
                raise KeyFileError("refusing to retire the newest blind-index key")
            del versions[str(version)]
            doc["blind_index"] = {"versions": versions}

    def reload(self) -> None:
        with self._lock:
            self._keys = _read(self.path)

    @contextmanager
    def _edit(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write under an advisory lock shared with other processes."""
        lock_path = self.keys_dir / LOCKNAME
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self._lock:
                doc = _read(self.path).doc
                yield doc
                _Keys(doc, self.path)  # never write a file we could not read back
                _replace(self.path, doc)
                self._keys = _read(self.path)
        finally:
            os.close(fd)  # closing releases the flock
