"""The key provider a home's config.toml names: `key_provider = "file"` (keys/vault.json,
the embedded default) or `"pkcs11"` (an HSM, `pkcs11_keys.py`).

The HSM's PIN is read from `pkcs11_pin_file` (which group and others may not read) or from
the environment variable `pkcs11_pin_env` names; config.toml never holds it.
"""

from __future__ import annotations

import os
import stat

from strongroom.config import Home, Settings
from strongroom.vault.errors import HsmError
from strongroom.vault.keys import FileKeyProvider, KeyProvider


def open_key_provider(home: Home, settings: Settings, *, create: bool = False) -> KeyProvider:
    """The home's key provider; `create` makes the keys it lacks (`strongroom init`)."""
    if settings.key_provider != "pkcs11":
        keys_dir = home.keys_dir
        return FileKeyProvider.create(keys_dir) if create else FileKeyProvider(keys_dir)
    from strongroom.vault.pkcs11_keys import Pkcs11KeyProvider

    module, label = settings.pkcs11_module or "", settings.pkcs11_token_label or ""
    opener = Pkcs11KeyProvider.create if create else Pkcs11KeyProvider
    return opener(module, label, read_pin(settings))


def read_pin(settings: Settings) -> str:
    if settings.pkcs11_pin_env:
        pin = os.environ.get(settings.pkcs11_pin_env, "")
        if not pin:
            raise HsmError(f"the HSM PIN is read from ${settings.pkcs11_pin_env}, which is not set")
        return pin
    path = settings.pkcs11_pin_file or ""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise HsmError(f"cannot read the HSM PIN file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if mode & 0o077:
            raise HsmError(
                f"the HSM PIN file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):04o}): run `chmod 600` on it"
            )
        pin = fh.read().decode("utf-8", "replace").strip()
    if not pin:
        raise HsmError(f"the HSM PIN file {path} is empty")
    return pin
