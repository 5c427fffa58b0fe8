"""C2SP tlog-cosignature/v1 (Ed25519): the line a witness adds to a checkpoint, its keys,
and what a verifier refuses."""

from __future__ import annotations

import base64

import pytest

from strongroom.journal import NoteSigner, open_note
from strongroom.journal.cosignature import CosignatureVerifier, Cosigner, signed_message
from strongroom.journal.note import NoteError, key_hash

TEXT = "example.test/log\n12\n" + base64.b64encode(bytes(range(32))).decode() + "\n"


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner.generate("example.test/log")


def test_a_cosignature_verifies_beside_the_logs_signature(log_signer: NoteSigner) -> None:
    w = Cosigner.generate("witness.test/w1")
    note = log_signer.sign(TEXT) + w.cosign(TEXT, 1_700_000_000)
    assert w.verifier().verify(note).timestamp == 1_700_000_000
    # The log's own verifier ignores the cosignature (another key ID: type 0x04).
    assert open_note(note, [log_signer.verifier()]) == TEXT
    # The key ID commits to the 0x04 type, and the signature to the header and the time.
    pub = base64.b64decode(w.verifier().verifier_key.split("+", 2)[2])
    assert pub[0] == 0x04 and w.key_id == key_hash("witness.test/w1", pub[1:], 0x04)
    blob = base64.b64decode(note.rsplit(" ", 1)[1])
    assert blob[:4] == w.key_id.to_bytes(4, "big")
    assert int.from_bytes(blob[4:12], "big") == 1_700_000_000
    w.verifier().public_key.verify(blob[12:], b"cosignature/v1\ntime 1700000000\n" + TEXT.encode())
    assert signed_message(TEXT, 5) == b"cosignature/v1\ntime 5\n" + TEXT.encode()


def test_what_a_cosignature_verifier_refuses(log_signer: NoteSigner) -> None:
    w = Cosigner.generate("witness.test/w1")
    note = log_signer.sign(TEXT) + w.cosign(TEXT, 1_700_000_000)
    v = w.verifier()
    line = note.rstrip("\n").rsplit("\n", 1)[1]
    blob = bytearray(base64.b64decode(line.rsplit(" ", 1)[1]))
    blob[11] ^= 1  # another time, same signature
    moved = note.replace(line, "— witness.test/w1 " + base64.b64encode(bytes(blob)).decode())
    with pytest.raises(NoteError, match="invalid cosignature"):
        v.verify(moved)
    with pytest.raises(NoteError, match="invalid cosignature"):
        v.verify(note.replace("\n12\n", "\n13\n"))  # another checkpoint
    with pytest.raises(NoteError, match="no cosignature"):
        v.verify(log_signer.sign(TEXT))  # none at all
    impostor = Cosigner.generate("witness.test/w1")  # same name, another key: ignored
    with pytest.raises(NoteError, match="no cosignature"):
        v.verify(log_signer.sign(TEXT) + impostor.cosign(TEXT, 1))
    # A note signature by the witness's key (type 0x01) is not a cosignature.
    as_note = NoteSigner("witness.test/w1", w._key)  # noqa: SLF001 - the same key on purpose
    with pytest.raises(NoteError, match="no cosignature"):
        v.verify(as_note.sign(TEXT))


def test_keys_round_trip_and_types_do_not_mix(log_signer: NoteSigner) -> None:
    w = Cosigner.generate("witness.test/w1")
    again = Cosigner.from_key(w.signer_key)
    assert again.key_id == w.key_id and "PRIVATE" not in repr(again)
    assert CosignatureVerifier.from_key(w.verifier().verifier_key) == w.verifier()
    with pytest.raises(NoteError):
        CosignatureVerifier.from_key(log_signer.verifier().verifier_key)  # a 0x01 note key
    with pytest.raises(NoteError):
        Cosigner.from_key(log_signer.signer_key)
    name, _, b64 = w.verifier().verifier_key.split("+", 2)
    with pytest.raises(NoteError, match="hash"):
        CosignatureVerifier.from_key(f"{name}+00000000+{b64}")
    with pytest.raises(NoteError):
        w.cosign(TEXT, -1)
