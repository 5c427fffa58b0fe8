"""A real `strongroom serve` process for a home: on a free loopback port, started with
subprocess, its log kept in the home, stopped with SIGTERM (the journal is closed, its tail
committed) when the block ends, or with the signal given (SIGKILL: a crash)."""

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(
    home: Home, *, workers: int = 1, timeout: float = 60, stop: int = signal.SIGTERM
) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "STRONGROOM_HOME": str(home.path)}
    log_path = Path(home.path) / "serve.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "strongroom.cli.main",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise AssertionError("server exited: " + log_path.read_text())
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("server did not start: " + log_path.read_text())
                time.sleep(0.2)
            yield url
        finally:
            proc.send_signal(stop)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
