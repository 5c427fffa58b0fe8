"""A served worker keeps an idle keep-alive connection open longer than a load balancer
keeps its own (60 s for nginx's upstreams and AWS's ALB): closed first, the connection
races the balancer's next request, which fails without an answer."""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from urllib.parse import urlsplit

from strongroom.cli.main import KEEP_ALIVE_SECONDS
from strongroom.config import Home
from strongroom.initialize import initialize
from tests.served import served

UVICORN_DEFAULT_SECONDS = 5  # uvicorn's own keep-alive, which closed such connections


def test_an_idle_connection_outlives_uvicorns_default(tmp_path: Path) -> None:
    assert KEEP_ALIVE_SECONDS > 60
    home = Home(tmp_path / "home")
    initialize(home)
    with served(home) as url:
        where = urlsplit(url)
        conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            first = conn.getresponse()
            assert first.status == 200 and first.getheader("connection") != "close"
            first.read()
            sock = conn.sock
            time.sleep(UVICORN_DEFAULT_SECONDS + 2)
            conn.request("GET", "/healthz")  # on the same socket: the server kept it
            again = conn.getresponse()
            assert again.status == 200
            again.read()
            assert conn.sock is sock
        finally:
            conn.close()
