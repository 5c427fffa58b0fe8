"""Checkpoints exported to a file and POSTed to a witness (a real HTTP server on
127.0.0.1, in this test process, that checks the signature and the consistency proof)."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from strongroom.clock import FakeClock
from strongroom.errors import Unavailable
from strongroom.journal import (
    Journal,
    NoteSigner,
    export_checkpoint,
    open_note,
    parse_checkpoint,
    rfc6962,
)
from strongroom.journal.witness import submit

from .helpers import event


class Witness(ThreadingHTTPServer):
    def __init__(self, verifier) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.verifier = verifier
        self.size, self.root = 0, rfc6962.EMPTY_ROOT
        self.bodies: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: Witness

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        w = self.server
        w.bodies.append(body)
        head, note = body.split("\n\n", 1)
        lines = head.split("\n")
        old = int(lines[0].removeprefix("old "))
        proof = [base64.b64decode(x) for x in lines[1:]]
        cp = parse_checkpoint(open_note(note, [w.verifier]))
        if old != w.size:
            return self._answer(409, str(w.size))
        if old:
            try:
                rfc6962.verify_consistency(old, cp.size, proof, w.root, cp.root)
            except rfc6962.ProofError:
                return self._answer(422, "inconsistent")
        w.size, w.root = cp.size, cp.root
        self._answer(200, "— witness AAAA\n")

    def _answer(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate("test.local/journal")


def test_submit_to_witness_and_export(tmp_path: Path, signer: NoteSigner) -> None:
    j = Journal.open(f"sqlite:///{tmp_path / 'j.db'}", signer=signer, clock=FakeClock())
    server = Witness(signer.verifier())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for i in range(5):
            j.append(event(i))
        assert submit(j, url, note=j.make_checkpoint()) == "— witness AAAA\n"
        assert server.size == 5
        for i in range(5, 13):
            j.append(event(i))
        # We claim the witness knows nothing; it answers 409 with 5, we resend with a proof.
        submit(j, url, note=j.make_checkpoint())
        assert server.size == 13 and server.bodies[-1].startswith("old 5\n")
        out = tmp_path / "checkpoint.txt"
        export_checkpoint(j.latest_checkpoint() or "", out)
        assert parse_checkpoint(open_note(out.read_text(), [signer.verifier()])).size == 13
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(Unavailable):
        submit(j, url)  # the witness is gone
    j.close()
