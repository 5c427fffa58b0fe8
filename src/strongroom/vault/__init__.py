"""The vault: field-level envelope encryption (AES-256-GCM under per-store KEKs) and blind
indexes (keyed HMAC-SHA256) for exact-match lookup.

    provider = FileKeyProvider.create(home.keys_dir)  # or open_key_provider(home, settings)
    vault = Vault(provider, wrapped_keys)            # wrapped_keys: a WrappedKeyStore
    blob = vault.encrypt("identity", person_id, "family_name", "Dupont")
    vault.decrypt("identity", person_id, "family_name", blob)    # "Dupont"
    vault.blind_index("name_dob", "DUPONT", "1980-05-01")          # 16 bytes
"""

from strongroom.vault.blind_index import BlindIndexer, normalize
from strongroom.vault.configured import open_key_provider
from strongroom.vault.data_keys import MemoryWrappedKeyStore, WrappedKeyStore
from strongroom.vault.envelope import FORMAT_V1, Rotation, Vault
from strongroom.vault.errors import (
    HsmError,
    IntegrityError,
    KeyFileError,
    UnknownKeyError,
    VaultError,
)
from strongroom.vault.keys import STORES, FileKeyProvider, KeyProvider, RotatingKeyProvider
from strongroom.vault.secret import Secret

__all__ = [
    "FORMAT_V1",
    "STORES",
    "BlindIndexer",
    "FileKeyProvider",
    "HsmError",
    "IntegrityError",
    "KeyFileError",
    "KeyProvider",
    "MemoryWrappedKeyStore",
    "Rotation",
    "RotatingKeyProvider",
    "Secret",
    "UnknownKeyError",
    "Vault",
    "VaultError",
    "WrappedKeyStore",
    "normalize",
    "open_key_provider",
]
