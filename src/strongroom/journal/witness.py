"""Submitting checkpoints to a witness, C2SP tlog-witness `add-checkpoint`.

    POST <witness URL>/add-checkpoint
    old <size the witness last saw>
    <consistency proof from that size, one base64 hash a line>
    <blank line>
    <signed checkpoint>

A 200 answer carries the witness's cosignature lines. A 409 answer names, in its body, the
size the witness already holds; we then resend once with a proof from that size. Any other
answer or a network failure raises `Unavailable`: the checkpoint stays stored and exported
locally, and the next submission catches up.
"""

from __future__ import annotations

import base64

import httpx

from strongroom.errors import Unavailable
from strongroom.journal.checkpoint import parse_checkpoint
from strongroom.journal.log import Journal
from strongroom.journal.note import open_note


def add_checkpoint_body(old_size: int, proof: list[bytes], note: str) -> str:
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return "\n".join(lines) + "\n\n" + note


def submit(
    journal: Journal,
    witness_url: str,
    *,
    old_size: int = 0,
    note: str | None = None,
    timeout: float = 10.0,
) -> str:
    """Send the journal's latest (or the given) checkpoint to the witness; return its
    cosignature lines."""
    note = note or journal.latest_checkpoint()
    if note is None:
        raise Unavailable("the journal has no checkpoint to submit")
    if journal.verifier is None:
        raise Unavailable("no checkpoint verifier key")
    size = parse_checkpoint(open_note(note, [journal.verifier])).size
    url = witness_url.rstrip("/") + "/add-checkpoint"
    for _ in range(2):
        old = min(old_size, size)
        body = add_checkpoint_body(old, journal.consistency_proof(old, size), note)
        try:
            resp = httpx.post(
                url,
                content=body.encode(),
                timeout=timeout,
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"witness unreachable: {exc.__class__.__name__}") from exc
        if resp.status_code == 200:
            return resp.text
        if resp.status_code == 409 and resp.text.strip().isdigit():
            old_size = int(resp.text.strip())
            continue
        raise Unavailable(f"witness refused the checkpoint: HTTP {resp.status_code}")
    raise Unavailable("witness and journal disagree on the tree size")
