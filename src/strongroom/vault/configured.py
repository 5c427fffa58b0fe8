"""The key provider a home's config.toml names: `key_provider = "file"` (keys/vault.json,
the embedded default) or `"pkcs11"` (an HSM, `pkcs11_keys.py`).

The HSM's PIN is read from `pkcs11_pin_file` (which group and others may not read) or from
the environment variable `pkcs11_pin_env` names; config.toml never holds it.
"""

from __future__ import annotations

from strongroom.config import Home, SecretUnreadable, Settings, read_secret
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
    try:
        return read_secret(
            "the HSM PIN",
            settings.pkcs11_pin_file,
            settings.pkcs11_pin_env,
            private=True,
            strip=True,
        )
    except SecretUnreadable as exc:
        raise HsmError(str(exc)) from None
