"""Root keys in a hardware security module, through PKCS#11 (python-pkcs11).

Every root key is a token object that never leaves the token (CKA_SENSITIVE true,
CKA_EXTRACTABLE false), found by its label:

    strongroom/kek/<store>/v<N>    AES-256, encrypt/decrypt only: one per KEK version; the
                                   highest N is the current version
    strongroom/hmac/<name>         generic secret (256 bits), sign/verify only:
                                   blind_index, pseudonym, honey
    strongroom/hmac/blind_index/v<N>   the blind-index key's version N >= 2 (a rotation;
                                   plain `blind_index` is version 1)

Data keys are wrapped inside the token with CKM_AES_GCM, in the same format and under the
same associated data as the file provider's (`data_keys.py`), so a wrapped DEK moved to
another id, store or KEK version fails to unwrap here too.

The HMAC keys stay in the token; each process derives its working key from one once, with a
CKM_SHA256_HMAC signature made inside the token over a fixed label, and keeps it in memory
only (like the unwrapped DEKs the vault caches). A copy of the server's disk therefore holds
no key at all, and without the token and its PIN none can be derived again.

The PIN comes from a file or an environment variable named in config.toml, never from the
config itself (`vault/configured.py`). One session per provider, and one lock for every call
into the module (it is initialized without OS locking): the vault's DEK cache keeps the
token off the per-field path, so it sees one call per data key per process, not one per
field.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import PKCS11Error
from pkcs11.mechanisms import GCMParams

from strongroom.vault.data_keys import NONCE_BYTES, dek_aad
from strongroom.vault.errors import HsmError, IntegrityError, KeyFileError, UnknownKeyError
from strongroom.vault.keys import SINGLE_KEYS, STORES

KEK_BITS = 256
HMAC_BITS = 256
TAG_BITS = 128
LABEL_PREFIX = "strongroom/"
_KEK_LABEL = re.compile(r"^strongroom/kek/([a-z_]+)/v([1-9][0-9]*)$")
_INDEX_NAME = re.compile(r"^blind_index/v([1-9][0-9]*)$")
# What the working HMAC keys are derived from, inside the token.
WORKING_KEY_LABEL = b"strongroom/working-key/v1\0"
# python-pkcs11 calls C_Initialize without CKF_OS_LOCKING_OK, so the module may assume one
# thread at a time: every call into it, from any provider of this process, takes this lock.
_LIBRARY_LOCK = threading.Lock()
# Never readable, never exported, kept on the token, usable only after login.
_LOCKED = {
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.PRIVATE: True,
    Attribute.TOKEN: True,
}


def kek_label(store: str, version: int) -> str:
    return f"{LABEL_PREFIX}kek/{store}/v{version}"


def hmac_label(name: str) -> str:
    return f"{LABEL_PREFIX}hmac/{name}"


def index_key_name(version: int) -> str:
    return "blind_index" if version == 1 else f"blind_index/v{version}"


def _index_version(name: str) -> int | None:
    if name == "blind_index":
        return 1
    found = _INDEX_NAME.match(name)
    return int(found.group(1)) if found else None


class Pkcs11KeyProvider:
    """A `RotatingKeyProvider` whose keys live in a PKCS#11 token (see the module
    docstring). `create` makes the keys a fresh token lacks; the constructor only opens."""

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        self.module, self.token_label = module, token_label
        self._lock = _LIBRARY_LOCK
        with self._lock:
            try:
                token = pkcs11.lib(module).get_token(token_label=token_label)
                try:
                    self._session = token.open(rw=True, user_pin=pin)
                except pkcs11.exceptions.UserAlreadyLoggedIn:
                    # Login is per process in PKCS#11: another session of this process logged in
                    # (with the PIN checked then), and this one shares that login.
                    self._session = token.open(rw=True)
            except pkcs11.exceptions.NoSuchToken:
                raise HsmError(f"no PKCS#11 token labelled {token_label!r} in {module}") from None
            except pkcs11.exceptions.MultipleTokensReturned:
                raise HsmError(f"several PKCS#11 tokens are labelled {token_label!r}") from None
            except pkcs11.exceptions.PinIncorrect:
                raise HsmError(f"the PIN of token {token_label!r} was refused") from None
            except PKCS11Error as exc:
                # The message may name the module path, never the PIN.
                raise HsmError(
                    f"cannot open token {token_label!r} through {module}: {type(exc).__name__}"
                ) from None
        self._keks: dict[str, dict[int, Any]] = {}
        self._macs: dict[str, Any] = {}
        self._working: dict[str, bytes] = {}
        self._scan()

    @classmethod
    def create(cls, module: str, token_label: str, pin: str) -> Pkcs11KeyProvider:
        """Open the token and generate the keys it lacks (version 1 of each store's KEK, the
        three HMAC keys). Existing keys are kept: losing them loses every ciphertext."""
        provider = cls(module, token_label, pin)
        with provider._token():
            for store in STORES:
                if not provider._keks.get(store):
                    provider._generate_kek(store, 1)
            for name in SINGLE_KEYS:
                if name == "blind_index" and any(map(_index_version, provider._macs)):
                    continue  # rotated: version 1 may be retired
                if name not in provider._macs:
                    provider._generate_hmac(name)
        provider._scan()
        return provider

    def close(self) -> None:
        with self._lock:
            self._session.close()

    # --- KeyProvider -----------------------------------------------------------------------
    def kek_version(self, store: str) -> int:
        # Asked once per new data key, not per field: re-reading the token here lets a
        # rotation from the CLI take effect in running servers without a restart.
        self._scan()
        versions = self._keks.get(store)
        if not versions:
            raise UnknownKeyError(f"no key-encryption key for store {store!r} in the token")
        return max(versions)

    def wrap_dek(self, store: str, version: int, dek_id: int, dek: bytes) -> bytes:
        key = self._kek(store, version)
        nonce = os.urandom(NONCE_BYTES)
        params = GCMParams(nonce, dek_aad(store, dek_id, version), TAG_BITS)
        with self._token():
            sealed = key.encrypt(bytes(dek), mechanism=Mechanism.AES_GCM, mechanism_param=params)
        return nonce + bytes(sealed)

    def unwrap_dek(self, store: str, version: int, dek_id: int, wrapped: bytes) -> bytes:
        key = self._kek(store, version)
        wrapped = bytes(wrapped)
        params = GCMParams(wrapped[:NONCE_BYTES], dek_aad(store, dek_id, version), TAG_BITS)
        try:
            with self._lock:
                return bytes(
                    key.decrypt(
                        wrapped[NONCE_BYTES:], mechanism=Mechanism.AES_GCM, mechanism_param=params
                    )
                )
        except PKCS11Error as exc:
            raise IntegrityError(
                f"data key {dek_id} of store {store!r} failed to unwrap in the token"
            ) from exc

    def blind_index_key(self, version: int = 1) -> bytes:
        name = index_key_name(version)
        if name not in self._macs:
            self._scan()  # another process may have rotated
            if name not in self._macs:
                raise UnknownKeyError(f"blind-index key version {version} is not in the token")
        return self._working_key(name)

    def pseudonym_key(self) -> bytes:
        return self._working_key("pseudonym")

    def honey_key(self) -> bytes:
        return self._working_key("honey")

    # --- RotatingKeyProvider ---------------------------------------------------------------
    def kek_versions(self, store: str) -> list[int]:
        self._scan()
        return sorted(self._keks.get(store, {}))

    def add_kek_version(self, store: str) -> int:
        """Generate the next KEK version of `store` in the token; it becomes current."""
        self._scan()
        version = max(self._keks.get(store, {}), default=0) + 1
        with self._token():
            self._generate_kek(store, version)
        self._scan()
        return version

    def retire_kek_version(self, store: str, version: int) -> None:
        """Destroy an old KEK version in the token. The caller checks no DEK needs it."""
        self._scan()
        versions = self._keks.get(store, {})
        if version not in versions:
            return
        if version == max(versions):
            raise KeyFileError(f"refusing to retire the current KEK of {store!r}")
        with self._token():
            versions[version].destroy()
        self._scan()

    def blind_index_versions(self) -> list[int]:
        self._scan()
        return sorted(v for v in map(_index_version, self._macs) if v)

    def add_blind_index_version(self) -> int:
        """Generate the next blind-index key version in the token."""
        version = max(self.blind_index_versions(), default=0) + 1
        with self._token():
            self._generate_hmac(index_key_name(version))
        self._scan()
        return version

    def retire_blind_index_version(self, version: int) -> None:
        """Destroy an old blind-index key version in the token, and this process's working
        key derived from it. The caller checks that no row holds its values."""
        versions = self.blind_index_versions()
        if version not in versions:
            return
        if version == max(versions):
            raise KeyFileError("refusing to retire the newest blind-index key")
        name = index_key_name(version)
        with self._token():
            self._macs[name].destroy()
        self._working.pop(name, None)
        self._scan()

    # --- inside ------------------------------------------------------------------------------
    @contextmanager
    def _token(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except PKCS11Error as exc:
                raise HsmError(f"token {self.token_label!r}: {type(exc).__name__}") from exc

    def _generate_kek(self, store: str, version: int) -> None:
        self._session.generate_key(
            KeyType.AES,
            KEK_BITS,
            label=kek_label(store, version),
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template=_LOCKED,
        )

    def _generate_hmac(self, name: str) -> None:
        self._session.generate_key(
            KeyType.GENERIC_SECRET,
            HMAC_BITS,
            label=hmac_label(name),
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            mechanism=Mechanism.GENERIC_SECRET_KEY_GEN,
            template=_LOCKED,
        )

    def _scan(self) -> None:
        """Re-read which keys the token holds (another process may have rotated)."""
        keks: dict[str, dict[int, Any]] = {}
        macs: dict[str, Any] = {}
        with self._token():
            for obj in self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                label = str(obj[Attribute.LABEL] or "")
                found = _KEK_LABEL.match(label)
                if found:
                    keks.setdefault(found.group(1), {})[int(found.group(2))] = obj
                elif label.startswith(hmac_label("")):
                    macs[label.removeprefix(hmac_label(""))] = obj
        self._keks, self._macs = keks, macs

    def _kek(self, store: str, version: int) -> Any:
        key = self._keks.get(store, {}).get(version)
        if key is None:
            self._scan()
            key = self._keks.get(store, {}).get(version)
            if key is None:
                raise UnknownKeyError(f"KEK version {version} of store {store!r} is gone")
        return key

    def _working_key(self, name: str) -> bytes:
        found = self._working.get(name)
        if found is not None:
            return found
        key = self._macs.get(name)
        if key is None:
            raise UnknownKeyError(
                f"no {name} key in token {self.token_label!r}: run `strongroom init` first"
            )
        with self._token():
            derived = bytes(
                key.sign(WORKING_KEY_LABEL + name.encode(), mechanism=Mechanism.SHA256_HMAC)
            )
        self._working[name] = derived
        return derived
