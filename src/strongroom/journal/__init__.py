"""The tamper-evident access journal (RFC 6962 Merkle log, C2SP signed checkpoints).

Journal.open(url, signer=..., clock=...)   the log: append, proofs, checkpoints, verify
rfc6962                                    pure hashing, proof plans and verifiers
note                                       C2SP signed notes (Ed25519)
checkpoint                                 checkpoint bodies, keys, export
witness                                    checkpoints to tlog-witnesses, and verify against
                                           what they hold
cosignature                                tlog-cosignature/v1 lines and witness keys
investigate                                principal, subject and breach reports
"""

from strongroom.journal.checkpoint import (
    DEFAULT_ORIGIN,
    Checkpoint,
    create_checkpoint_key,
    export_checkpoint,
    load_signer,
    load_verifier,
    parse_checkpoint,
)
from strongroom.journal.log import Journal
from strongroom.journal.note import NoteError, NoteSigner, NoteVerifier, open_note
from strongroom.journal.rfc6962 import ProofError, verify_consistency, verify_inclusion
from strongroom.journal.verify import Problem, VerifyReport

__all__ = [
    "DEFAULT_ORIGIN",
    "Checkpoint",
    "Journal",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "Problem",
    "ProofError",
    "VerifyReport",
    "create_checkpoint_key",
    "export_checkpoint",
    "load_signer",
    "load_verifier",
    "open_note",
    "parse_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]
