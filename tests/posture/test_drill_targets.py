"""The drill and the audit talk only to loopback or allow-listed hosts unless told
otherwise, and refuse before opening any connection."""

from __future__ import annotations

import socket

import httpx
import pytest
from typer.testing import CliRunner

from strongroom.cli.main import app as cli
from strongroom.posture import TargetRefused, check_target
from strongroom.posture.drill import DrillConfig, run_drill
from strongroom.posture.targets import is_loopback


@pytest.fixture
def connections(monkeypatch) -> list[object]:
    attempts: list[object] = []
    real = socket.socket.connect

    def spy(self, address):  # noqa: ANN001
        attempts.append(address)
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    monkeypatch.setattr(
        socket,
        "create_connection",
        lambda *a, **k: attempts.append(a) or (_ for _ in ()).throw(OSError),
    )
    return attempts


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.8.7", "[::1]", "localhost"])
def test_loopback_targets_are_allowed(host) -> None:
    assert check_target(f"http://{host}:8000/")


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.1:8000",
        "https://10.0.0.1",
        "http://localhost.example.com",
        "http://[2001:db8::1]/",
        "http://127.0.0.1.nip.io/",
    ],
)
def test_other_targets_are_refused(url) -> None:
    with pytest.raises(TargetRefused):
        check_target(url)


def test_allow_list_and_allow_remote() -> None:
    assert check_target("https://staging.registry.test", allow_hosts=["staging.registry.test"])
    assert check_target("http://192.0.2.1", allow_remote=True) == "192.0.2.1"
    with pytest.raises(TargetRefused):
        check_target("ftp://127.0.0.1/")
    assert not is_loopback("0.0.0.0")  # noqa: S104 - a bind-all address, not loopback


def test_drill_refuses_test_net_without_connecting(connections) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json={}))
    )
    with pytest.raises(TargetRefused):
        run_drill(
            DrillConfig(url="http://192.0.2.1:8000", strategy="enumerate"), tokens=["t"], http=http
        )
    assert sent == [] and connections == []


def test_drill_cli_refuses_test_net_without_connecting(connections) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "drill",
            "--url",
            "http://192.0.2.1:8000",
            "--token",
            "t",
            "--strategy",
            "name-sweep",
            "--max-requests",
            "5",
        ],
    )
    assert r.exit_code == 2 and "not a loopback address" in r.output
    assert connections == []


def test_drill_cli_needs_credentials() -> None:
    r = CliRunner().invoke(cli, ["drill", "--url", "http://127.0.0.1:9", "--strategy", "enumerate"])
    assert r.exit_code == 2 and "--token" in r.output


def test_the_drill_without_a_subcommand_needs_its_target_and_strategy() -> None:
    r = CliRunner().invoke(cli, ["drill", "--strategy", "owner"])
    assert r.exit_code == 2 and "--url and --strategy" in r.output
