"""A home served by a real `strongroom serve` process on a free loopback port, for as long
as a block lasts: the drill's baseline serves its copy of a home this way, and the test
suite serves its homes so (`tests/served.py`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from strongroom.config import Home
from strongroom.errors import BadRequest

START_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(
    home: Home,
    *,
    workers: int = 1,
    timeout: float = START_SECONDS,
    stop: int = signal.SIGTERM,
    log_path: Path | None = None,
) -> Iterator[str]:
    """Serve `home` and yield its URL once /healthz answers; at the end stop the server
    with `stop` (SIGTERM: the journal's tail committed and signed; SIGKILL: a crash). The
    server's output goes to `log_path` (default: serve.log in the home)."""
    port = free_port()
    env = {**os.environ, "STRONGROOM_HOME": str(home.path)}
    command = [sys.executable, "-m", "strongroom.cli.main", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    url = f"http://127.0.0.1:{port}"
    log_path = log_path or home.path / "serve.log"
    with running(command, env, log_path, url + "/healthz", timeout=timeout, stop=stop):
        yield url


@contextlib.contextmanager
def running(
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    ready_url: str,
    *,
    timeout: float = START_SECONDS,
    stop: int = signal.SIGTERM,
) -> Iterator[None]:
    """Run `command` (output to `log_path`) for as long as the block lasts, from the moment
    `ready_url` answers 200; at the end send it `stop` (killed after 30 s)."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI, no shell
            command, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait(proc, ready_url, log_path, timeout)
            yield
        finally:
            proc.send_signal(stop)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait(proc: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise BadRequest(f"the server exited: {tail}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise BadRequest(f"the server did not start within {timeout:.0f} s")
        time.sleep(0.2)
