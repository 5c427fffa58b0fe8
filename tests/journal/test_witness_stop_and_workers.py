"""Checkpoints reach the witness when the server stops and from one worker only (issue 20),
with real `strongroom serve` and `strongroom witness serve` processes: (a) the checkpoint a
server signs as it stops (SIGTERM) is held by the witness when the process has exited, not
at the next start; (b) with two workers, the witness receives each checkpoint once,
counted by a relay in front of it that forwards every request to the real witness. The
registry, which holds the lease, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from strongroom.cli.witness_cmds import witness_app
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.journal import load_signer
from strongroom.journal.witness import WitnessSpec, fetch_cosigned
from tests.served import free_port, journal_entries, served

from .test_journal_witness_served import _fill, _held, served_witness

runner = CliRunner()


class Relay:
    """Forwards every request to the witness and counts the checkpoint sizes submitted."""

    def __init__(self, witness_url: str) -> None:
        self.submitted: Counter[int] = Counter()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                note = body.decode("utf-8", "replace").split("\n\n", 1)[-1]
                lines = note.splitlines()
                if self.path == "/add-checkpoint" and len(lines) > 1 and lines[1].isdigit():
                    relay.submitted[int(lines[1])] += 1
                answer = httpx.post(witness_url + self.path, content=body, headers=self._kept())
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "text/plain"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def _kept(self) -> dict[str, str]:
                return {"Content-Type": self.headers.get("Content-Type", "text/plain")}

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Relay]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Home:
    """A home whose registry (where the witness lease is) is SQLite or PostgreSQL."""
    home = Home(tmp_path / "registry")
    initialize(
        home, registry_url=None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )
    monkeypatch.setenv("STRONGROOM_HOME", str(home.path))
    return home


@pytest.fixture
def witness_home(tmp_path: Path, registry: Home) -> Path:
    wh = tmp_path / "witness"
    vkey = load_signer(registry.keys_dir).verifier().verifier_key
    init = ["init", "--home", str(wh), "--name", "w.test/w3", "--log-key", vkey]
    assert runner.invoke(witness_app, init).exit_code == 0
    return wh


def _spec(url: str, witness_home: Path) -> WitnessSpec:
    return WitnessSpec.parse(f"{url} {(witness_home / 'witness.vkey').read_text().strip()}")


def test_the_checkpoint_signed_at_stop_reaches_the_witness_at_stop(
    registry: Home, witness_home: Path
) -> None:
    verifier = load_signer(registry.keys_dir).verifier()
    _fill(registry, 0, 5)
    with served_witness(witness_home, free_port()) as wurl:
        spec = _spec(wurl, witness_home)
        # Rounds an hour apart: only the first, at start, and the one at stop can send.
        registry.update_config(
            witnesses=[f"{wurl} {spec.verifier.verifier_key}"], witness_interval_seconds=3600
        )
        with served(registry) as url:
            assert _held(spec, verifier, 5)
            for _ in range(7):  # refusals, each journaled
                assert httpx.get(f"{url}/v1/me", timeout=30).status_code == 401
        size = len(journal_entries(registry.settings()))
        assert size >= 12
        # The process has exited: what the witness holds now, it was sent at the stop.
        held = fetch_cosigned(spec, verifier)
        assert held is not None and held.size == size


def test_a_hung_witness_does_not_hold_the_stop(registry: Home, witness_home: Path) -> None:
    vkey = (witness_home / "witness.vkey").read_text().strip()
    with socket.socket() as hung:  # accepts connections (the backlog), never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        registry.update_config(
            witnesses=[f"http://127.0.0.1:{hung.getsockname()[1]} {vkey}"],
            witness_interval_seconds=3600,
        )
        with served(registry) as url:
            assert httpx.get(f"{url}/v1/me", timeout=30).status_code == 401
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 20


def test_two_workers_send_each_checkpoint_once(
    registry: Home, witness_home: Path, redis_url: str, redis_prefix: str
) -> None:
    verifier = load_signer(registry.keys_dir).verifier()
    registry.update_config(redis_url=redis_url, redis_prefix=redis_prefix)
    _fill(registry, 0, 4)
    with served_witness(witness_home, free_port()) as wurl, Relay(wurl).running() as relay:
        spec = _spec(wurl, witness_home)
        registry.update_config(
            witnesses=[f"{relay.url} {spec.verifier.verifier_key}"], witness_interval_seconds=1
        )
        with served(registry, workers=2):
            assert _held(spec, verifier, 4)
            start = 4
            for end in (9, 15, 22):  # another process of the deployment signs checkpoints
                _fill(registry, start, end)
                assert _held(spec, verifier, end)
                start = end
            time.sleep(3)  # rounds of both workers after the last one: none sends it again
            sent = dict(relay.submitted)
    assert sent == {4: 1, 9: 1, 15: 1, 22: 1}, sent
