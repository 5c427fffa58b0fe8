"""C2SP signed notes: the public vector in tests/testdata byte for byte, and every
single-byte change of it is rejected."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from strongroom.errors import Conflict
from strongroom.journal.checkpoint import (
    CheckpointError,
    create_checkpoint_key,
    load_signer,
    load_verifier,
    parse_checkpoint,
)
from strongroom.journal.note import NoteError, NoteSigner, NoteVerifier, open_note


@pytest.fixture
def vector(testdata: Path) -> dict[str, str]:
    return json.loads((testdata / "signed-note/vector.json").read_text())


def test_vector_reproduced_byte_for_byte(vector: dict[str, str]) -> None:
    signer = NoteSigner.from_key(vector["signer_key"])
    assert signer.sign(vector["text"]).encode() == vector["signed_note"].encode()
    assert signer.verifier().verifier_key == vector["verifier_key"]
    assert signer.signer_key == vector["signer_key"]
    verifier = NoteVerifier.from_key(vector["verifier_key"])
    assert open_note(vector["signed_note"], [verifier]) == vector["text"]
    assert "PRIVATE" not in repr(signer)


def test_every_single_byte_change_is_rejected(vector: dict[str, str]) -> None:
    verifier = NoteVerifier.from_key(vector["verifier_key"])
    note = vector["signed_note"].encode()
    accepted = []
    for pos in range(len(note)):
        for delta in (0x01, 0x20, 0x80):
            changed = bytearray(note)
            changed[pos] ^= delta
            try:
                open_note(bytes(changed), [verifier])
            except NoteError:
                continue
            accepted.append((pos, delta))
    assert accepted == []


def test_unknown_key_and_wrong_key_rejected(vector: dict[str, str]) -> None:
    other = NoteSigner.generate("PeterNeumann")
    with pytest.raises(NoteError):
        open_note(vector["signed_note"], [other.verifier()])
    with pytest.raises(NoteError):
        open_note(vector["signed_note"], [])


def test_malformed_keys_rejected(vector: dict[str, str]) -> None:
    for bad in ("", "PRIVATE+KEY+x", vector["verifier_key"], vector["signer_key"][:-2] + "AA"):
        with pytest.raises(NoteError):
            NoteSigner.from_key(bad)
    with pytest.raises(NoteError):
        NoteVerifier.from_key(vector["verifier_key"].replace("c74f20a3", "c74f20a4"))


def test_checkpoint_key_files(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    signer = create_checkpoint_key(keys, "example.org/log")
    assert stat.S_IMODE(os.stat(keys / "checkpoint.key").st_mode) == 0o600
    assert load_signer(keys).signer_key == signer.signer_key
    assert load_verifier(keys).verifier_key == signer.verifier().verifier_key
    assert signer.name == "example.org/log"
    with pytest.raises(Conflict):
        create_checkpoint_key(keys)


def test_checkpoint_body_round_trip() -> None:
    body = "o/x\n12\n" + "A" * 43 + "=\nchain 3 " + "BBBA" * 10 + "BBA=\n"
    cp = parse_checkpoint(body)
    assert (cp.origin, cp.size, cp.seq) == ("o/x", 12, 3)
    assert cp.body() == body
    for bad in (
        body.replace("BBA=", "BBB="),
        body.replace("12", "012"),
        body + "x\n",
        body.replace("chain", "chian"),
    ):
        with pytest.raises(CheckpointError):
            parse_checkpoint(bad)
