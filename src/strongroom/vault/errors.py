"""The vault's errors. None of them ever carries a plaintext, a key or a ciphertext.

    StrongroomError
    └── VaultError             500  the vault cannot do what was asked
        ├── IntegrityError     500  a ciphertext failed authentication (tampered, moved to
        │                           another row, field or store, or truncated)
        ├── UnknownKeyError    500  a data key or KEK version is missing
        ├── KeyFileError       500  the key file is missing, malformed or too permissive
        └── HsmError           500  the PKCS#11 token cannot be opened or refused an operation

cryptography's `InvalidTag` is translated once, in `envelope.py`, with `raise ... from`.
"""

from __future__ import annotations

from strongroom.errors import StrongroomError


class VaultError(StrongroomError):
    status = 500
    slug = "vault-error"
    title = "Vault error"


class IntegrityError(VaultError):
    slug = "vault-integrity"
    title = "Stored data failed its integrity check"


class UnknownKeyError(VaultError):
    slug = "vault-unknown-key"
    title = "Vault key not found"


class KeyFileError(VaultError):
    slug = "vault-key-file"
    title = "Vault key file unusable"


class HsmError(VaultError):
    slug = "vault-hsm"
    title = "Key token (HSM) unusable"
