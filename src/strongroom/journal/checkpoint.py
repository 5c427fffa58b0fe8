"""Checkpoints, C2SP tlog-checkpoint, signed as C2SP signed notes, and their keys.

    <origin>
    <tree size, decimal>
    <root hash, base64>
    chain <sequence number> <base64 SHA-256 of the previous signed checkpoint>

The last line is a tlog-checkpoint extension line. Chaining each checkpoint to the one
before it, inside the signed body, makes removing a stored checkpoint (not only editing
one) detectable: the next checkpoint still names it. The first checkpoint chains to 32 zero
bytes.

Keys live in the home's keys/ folder: `checkpoint.key` (signer key, mode 0600, created with
O_EXCL so two workers agree on one key) and `checkpoint.vkey` (verifier key, public).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from strongroom.errors import BadRequest, Conflict
from strongroom.journal.note import NoteError, NoteSigner, NoteVerifier, write_signer_key
from strongroom.journal.rfc6962 import HASH_SIZE

DEFAULT_ORIGIN = "strongroom.local/journal"
SIGNER_FILE = "checkpoint.key"
VERIFIER_FILE = "checkpoint.vkey"
GENESIS = bytes(HASH_SIZE)


class CheckpointError(ValueError):
    """A checkpoint body that does not parse."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    seq: int
    prev: bytes

    def body(self) -> str:
        return (
            f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
            f"chain {self.seq} {base64.b64encode(self.prev).decode()}\n"
        )


def note_digest(note: str) -> bytes:
    return hashlib.sha256(note.encode()).digest()


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) != 5 or lines[-1] != "":
        raise CheckpointError("a checkpoint has four lines")
    origin, size_s, root_s, chain = lines[:4]
    if not origin or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise CheckpointError("bad origin or tree size line")
    parts = chain.split(" ")
    if len(parts) != 3 or parts[0] != "chain" or not parts[1].isdigit():
        raise CheckpointError("bad chain line")
    try:
        root = base64.b64decode(root_s, validate=True)
        prev = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("bad base64 in checkpoint") from exc
    if base64.b64encode(root).decode() != root_s or base64.b64encode(prev).decode() != parts[2]:
        raise CheckpointError("non-canonical base64 in checkpoint")
    if len(root) != HASH_SIZE or len(prev) != HASH_SIZE:
        raise CheckpointError("hashes in a checkpoint have 32 bytes")
    return Checkpoint(origin, int(size_s), root, int(parts[1]), prev)


def create_checkpoint_key(keys_dir: Path, origin: str = DEFAULT_ORIGIN) -> NoteSigner:
    """Create the checkpoint signing key pair in `keys_dir`. Refuse to replace one."""
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        signer = NoteSigner.generate(origin)
    except NoteError as exc:
        raise BadRequest(f"invalid checkpoint key name: {exc}") from exc
    try:
        write_signer_key(keys_dir / SIGNER_FILE, signer.signer_key)
    except FileExistsError as exc:
        raise Conflict(f"{keys_dir / SIGNER_FILE} already exists") from exc
    vpath = keys_dir / VERIFIER_FILE
    tmp = vpath.with_suffix(".tmp")
    tmp.write_text(signer.verifier().verifier_key + "\n", encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, vpath)
    return signer


def load_signer(keys_dir: Path) -> NoteSigner:
    path = Path(keys_dir) / SIGNER_FILE
    try:
        return NoteSigner.from_key(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadRequest(f"cannot read checkpoint signer key {path}: {exc.strerror}") from exc
    except NoteError as exc:
        raise BadRequest(f"{path}: {exc}") from exc


def load_verifier(keys_dir: Path) -> NoteVerifier:
    path = Path(keys_dir) / VERIFIER_FILE
    try:
        return NoteVerifier.from_key(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadRequest(f"cannot read checkpoint verifier key {path}: {exc.strerror}") from exc
    except NoteError as exc:
        raise BadRequest(f"{path}: {exc}") from exc


def export_checkpoint(note: str, path: Path) -> None:
    """Write a signed checkpoint to `path` atomically (temp file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(note)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
