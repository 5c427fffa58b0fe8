"""Witness cosignatures, C2SP tlog-cosignature v1 (Ed25519), and the witness's keys.

A cosignature is a signed-note signature line on a checkpoint:

    — <witness name> base64(key_id[4] || timestamp[8, big-endian] || signature[64])

key_id = SHA-256(name || 0x0A || 0x04 || public key)[:4] (0x04: an Ed25519 cosignature,
distinct from 0x01, a note signature, so the same key cannot be replayed across the two),
and the signature covers

    cosignature/v1
    time <timestamp>
    <the checkpoint's text, every line, extension lines included>

Keys travel in the signed-note text forms with the 0x04 type byte: the verifier key
`name+hash+base64(0x04 || key)` and `PRIVATE+KEY+name+hash+base64(0x04 || seed)`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from strongroom.journal.note import (
    SIG_PREFIX,
    NoteError,
    b64decode_canonical,
    is_valid_name,
    key_hash,
)

ALG_COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1


def signed_message(text: str, timestamp: int) -> bytes:
    return f"{HEADER}time {timestamp}\n{text}".encode()


def _split_key(key: str, parts: int) -> list[str]:
    return key.strip().split("+", parts - 1)


@dataclass(frozen=True)
class Cosignature:
    timestamp: int


@dataclass(frozen=True)
class CosignatureVerifier:
    name: str
    key_id: int
    public_key: Ed25519PublicKey

    @classmethod
    def from_key(cls, vkey: str) -> CosignatureVerifier:
        parts = _split_key(vkey, 3)
        if len(parts) != 3:
            raise NoteError("malformed witness key")
        name, hash_hex, b64 = parts
        raw = b64decode_canonical(b64)
        if not is_valid_name(name) or len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise NoteError("malformed witness key (want a tlog-cosignature/v1 Ed25519 key)")
        if len(hash_hex) != 8 or hash_hex != f"{key_hash(name, raw[1:], raw[0]):08x}":
            raise NoteError("witness key hash does not match its key")
        return cls(name, int(hash_hex, 16), Ed25519PublicKey.from_public_bytes(raw[1:]))

    @property
    def verifier_key(self) -> str:
        pub = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        raw = bytes([ALG_COSIGNATURE_V1]) + pub
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode()}"

    def verify(self, note: str) -> Cosignature:
        """The newest valid cosignature by this key among the note's signature lines.
        Raise NoteError when there is none, or when a line of this key does not verify."""
        split = note.rfind("\n\n")
        if split < 0 or not note.endswith("\n"):
            raise NoteError("note has no signature block")
        text = note[: split + 1]
        found: Cosignature | None = None
        for line in note[split + 2 : -1].split("\n"):
            if not line.startswith(SIG_PREFIX):
                raise NoteError("malformed signature line")
            name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
            if name != self.name:
                continue
            blob = b64decode_canonical(b64)
            if len(blob) < 4 or int.from_bytes(blob[:4], "big") != self.key_id:
                continue  # the same name with another key or signature type
            if len(blob) != 4 + 8 + 64:
                raise NoteError(f"malformed cosignature by {name}")
            timestamp = int.from_bytes(blob[4:12], "big")
            try:
                self.public_key.verify(blob[12:], signed_message(text, timestamp))
            except InvalidSignature as exc:
                raise NoteError(f"invalid cosignature by {name}") from exc
            if timestamp > MAX_TIMESTAMP:
                raise NoteError(f"cosignature by {name} has an impossible time")
            if found is None or timestamp > found.timestamp:
                found = Cosignature(timestamp)
        if found is None:
            raise NoteError(f"no cosignature by witness {self.name}")
        return found


class Cosigner:
    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_name(name):
            raise NoteError(f"invalid witness name {name!r}")
        self.name = name
        self._key = private_key
        pub = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_hash(name, pub, ALG_COSIGNATURE_V1)

    def __repr__(self) -> str:  # never print the private key
        return f"Cosigner({self.name!r}, {self.key_id:08x})"

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key(cls, skey: str) -> Cosigner:
        parts = _split_key(skey, 5)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise NoteError("malformed witness signer key")
        _, _, name, hash_hex, b64 = parts
        raw = b64decode_canonical(b64)
        if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise NoteError("malformed witness signer key")
        cosigner = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if hash_hex != f"{cosigner.key_id:08x}":
            raise NoteError("witness signer key hash does not match its key")
        return cosigner

    @property
    def signer_key(self) -> str:
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        b64 = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{b64}"

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.key_id, self._key.public_key())

    def cosign(self, text: str, timestamp: int) -> str:
        """The cosignature line (ending in a newline) on a checkpoint's text."""
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise NoteError("cosignature time out of range")
        sig = self._key.sign(signed_message(text, timestamp))
        blob = self.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + sig
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"
