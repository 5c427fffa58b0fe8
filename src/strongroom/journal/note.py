"""Signed notes, C2SP signed-note (the format of golang.org/x/mod/sumdb/note), Ed25519.

    <text, ending in a newline>
    <blank line>
    — <key name> base64(key_hash[4] || signature[64])

key_hash = SHA-256(name || 0x0A || 0x01 || public key)[:4] (0x01: the Ed25519 algorithm).
Keys travel as text: `name+hash+base64(0x01 || key)` for the verifier key and
`PRIVATE+KEY+name+hash+base64(0x01 || seed)` for the signer key. Ed25519 (RFC 8032) is
deterministic, so a text signed with a given key always gives the same note.

Unlike Go's lenient base64 decoding, signatures must be canonical base64: a note that only
differs in the unused padding bits of its last base64 character is rejected, so no changed
byte of a signed note ever verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIG_PREFIX = "— "
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A malformed key or note, or a note with no valid signature by a known key."""


class NoteUnsigned(NoteError):
    """A well-formed note that no known key signed, or that a known key's signature fails:
    a witness answers it 403, a malformed note 400."""


def is_valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_hash(name: str, public_key: bytes, alg: int = ALG_ED25519) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def b64decode_canonical(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("invalid base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise NoteError("non-canonical base64")
    return raw


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    key_id: int
    public_key: Ed25519PublicKey

    @classmethod
    def from_key(cls, vkey: str) -> NoteVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("malformed verifier key")
        name, hash_hex, b64 = parts
        raw = b64decode_canonical(b64)
        if not is_valid_name(name) or len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("malformed verifier key")
        if len(hash_hex) != 8 or int(hash_hex, 16) != key_hash(name, raw[1:]):
            raise NoteError("verifier key hash does not match its key")
        return cls(name, int(hash_hex, 16), Ed25519PublicKey.from_public_bytes(raw[1:]))

    @property
    def verifier_key(self) -> str:
        raw = bytes([ALG_ED25519]) + _raw_public(self.public_key)
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode()}"

    def verify_bytes(self, text: bytes, sig: bytes) -> bool:
        try:
            self.public_key.verify(sig, text)
        except InvalidSignature:
            return False
        return True


class NoteSigner:
    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_name(name):
            raise NoteError(f"invalid key name {name!r}")
        self.name = name
        self._key = private_key
        self.key_id = key_hash(name, _raw_public(private_key.public_key()))

    def __repr__(self) -> str:  # never print the private key
        return f"NoteSigner({self.name!r}, {self.key_id:08x})"

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key(cls, skey: str) -> NoteSigner:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise NoteError("malformed signer key")
        _, _, name, hash_hex, b64 = parts
        raw = b64decode_canonical(b64)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("malformed signer key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if len(hash_hex) != 8 or int(hash_hex, 16) != signer.key_id:
            raise NoteError("signer key hash does not match its key")
        return signer

    @property
    def signer_key(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        b64 = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{b64}"

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key_id, self._key.public_key())

    def sign(self, text: str) -> str:
        """The signed note for `text` (which must end with a newline)."""
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("note text must end with one newline and hold no blank line")
        _check_chars(text)
        sig = self._key.sign(text.encode())
        blob = self.key_id.to_bytes(4, "big") + sig
        return f"{text}\n{SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def _check_chars(text: str) -> None:
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note holds a control character")


def open_note(note: str | bytes, verifiers: list[NoteVerifier]) -> str:
    """Verify a signed note; return its text. Raise NoteError unless at least one
    signature by a known key verifies and no signature by a known key fails."""
    try:
        msg = note.decode("utf-8") if isinstance(note, bytes) else note
    except UnicodeDecodeError as exc:
        raise NoteError("note is not UTF-8") from exc
    _check_chars(msg)
    split = msg.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no signature block")
    text, sigs = msg[: split + 1], msg[split + 2 :]
    if not sigs.endswith("\n"):
        raise NoteError("signature block must end with a newline")
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = 0
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise NoteError("malformed signature line")
        name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not sep or not b64 or not is_valid_name(name):
            raise NoteError("malformed signature line")
        blob = b64decode_canonical(b64)
        if len(blob) < 5:
            raise NoteError("malformed signature")
        verifier = known.get((name, int.from_bytes(blob[:4], "big")))
        if verifier is None:
            continue
        if not verifier.verify_bytes(text.encode(), blob[4:]):
            raise NoteUnsigned(f"invalid signature by {name}")
        verified += 1
    if not verified:
        raise NoteUnsigned("no signature by a known key")
    return text


def write_signer_key(path: Path, signer_key: str) -> None:
    """Write a private signer key to a new file, mode 0600, synced to disk. O_EXCL: a key
    is never replaced, and two processes starting at once agree on one (FileExistsError
    for the second)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(signer_key + "\n")
        fh.flush()
        os.fsync(fh.fileno())
