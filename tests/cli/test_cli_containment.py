"""`strongroom containment`: the operator's last resort, on the home, without HTTP. A
served instance blocks its own loopback network (as the issue's office was blocked); the
CLI lists the block and lifts it while the block stands, and the server lets requests in
again. A honey read's containment takes a second administrator. Errors are one line and
exit 2, never a traceback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from strongroom.cli.main import app
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.detect.containment import new_containment
from strongroom.initialize import initialize
from tests.served import served

pytestmark = pytest.mark.slow

REASON = "drill traffic from the operator's desk, checked with the SOC"


def run(home: Path, *args: str):  # noqa: ANN201 - typer's Result
    return CliRunner().invoke(app, list(args), env={"STRONGROOM_HOME": str(home)})


def lookup(url: str, token: str) -> httpx.Response:
    return httpx.post(
        url + "/v1/weapons/lookup",
        json={"serial": "SN-0001"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def listed(home: Path, *flags: str) -> list[dict[str, Any]]:
    r = run(home, "containment", "list", "--json", *flags)
    assert r.exit_code == 0, r.output
    return list(json.loads(r.output))


def test_the_cli_lifts_a_block_a_served_instance_enforces(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    initialize(home)
    svc = compose(home)
    try:
        police = svc.admin.add_principal(role="police", label="office")
        soc = svc.admin.add_principal(role="admin", label="soc lead")
        reader = svc.admin.add_principal(role="police", label="read a honey record")
        token = svc.token_issuer.issue(role="police", subject=police, lifetime=3600)
        now = svc.clock.now()
        # What the ladder stores when the office's risk jumps (and a honey read's
        # suspension of someone else), through the store every worker reads.
        block = new_containment(
            "block_ip_prefix",
            police,
            now,
            ip_prefix="127.0.0.0/24",
            expires_at=now + 3600,
            risk=96.0,
            families=("volume", "coordination"),
        )
        honey = new_containment("suspend_principal", reader, now, risk=100.0, families=("honey",))
        svc.detector.store.add(block)
        svc.detector.store.add(honey)
    finally:
        svc.close()
    path = home.path

    with served(home) as url:
        refused = lookup(url, token)
        assert refused.status_code == 403 and refused.json()["reason"] == "contained"

        active = listed(path)
        assert {c["id"] for c in active} == {block.id, honey.id}
        text = run(path, "containment", "list")
        assert text.exit_code == 0
        assert f"{block.id}  block_ip_prefix  127.0.0.0/24  active" in text.output
        assert f"{honey.id}  suspend_principal  {reader}  active, four eyes" in text.output

        unknown = run(path, "containment", "lift", "no-such-id", "--reason", REASON)
        assert unknown.exit_code == 2 and "no such containment" in unknown.output
        assert "Traceback" not in unknown.output
        assert run(path, "containment", "lift", block.id).exit_code == 2  # --reason needed

        lifted = run(path, "containment", "lift", block.id, "--reason", REASON)
        assert lifted.exit_code == 0, lifted.output
        assert lifted.output.strip() == f"lifted {block.id}"
        deadline = time.monotonic() + 10
        while (answer := lookup(url, token)).status_code == 403 and time.monotonic() < deadline:
            time.sleep(0.2)  # the server re-reads the store every sync_seconds
        assert answer.status_code != 403, answer.text

        again = run(path, "containment", "lift", block.id, "--reason", REASON)
        assert again.exit_code == 2 and "already lifted" in again.output
        assert "Traceback" not in again.output

        # Four eyes: the operator asks, cannot approve his own request, another admin does.
        asked = run(path, "containment", "lift", honey.id, "--reason", REASON)
        assert asked.exit_code == 0 and "requested" in asked.output, asked.output
        twice = run(path, "containment", "lift", honey.id, "--reason", REASON)
        assert twice.exit_code == 2 and "already requested" in twice.output
        own = run(path, "containment", "approve", honey.id)
        assert own.exit_code == 2 and "second administrator" in own.output
        none = run(path, "containment", "approve", block.id, "--as", soc)
        assert none.exit_code == 2 and "no lift" in none.output
        approved = run(path, "containment", "approve", honey.id, "--as", soc, "--note", "ok")
        assert approved.exit_code == 0, approved.output

        assert listed(path) == []
        every = {c["id"]: c for c in listed(path, "--all")}
        assert every[block.id]["lifted_why"] == REASON
        assert every[honey.id]["lifted_by"] == soc
        assert every[honey.id]["lift_request"]["requested_by"].startswith("operator:")

    svc = compose(home)
    try:
        journal = svc.journal
        entries = [journal.entry(i) for i in range(journal.size())]
    finally:
        svc.close()
    by_cli = [
        (e["endpoint"], e["outcome"], e.get("reason"))
        for e in entries
        if e.get("client") == "strongroom-cli" and "/lift" in e["endpoint"] + "/approve"
    ]
    assert ("POST /v1/containments/{id}/lift", "allowed", None) in by_cli
    lifts = [
        e
        for e in entries
        if e["endpoint"] == "POST /v1/containments/{id}/lift" and e["outcome"] == "allowed"
    ]
    assert [e["detail"]["containment"] for e in lifts] == [block.id, honey.id]
    assert all(e["principal"].startswith("operator:") for e in lifts)
    admin = {
        e["detail"]["containment"]: e for e in entries if e.get("reason") == "containment_lifted"
    }
    assert {e["kind"] for e in admin.values()} == {"admin"}
    assert admin[block.id]["detail"]["by"] == lifts[0]["principal"]
    assert admin[honey.id]["detail"]["by"] == soc
    approvals = [e for e in entries if e["endpoint"] == "POST /v1/containments/{id}/approve"]
    assert [(e["principal"], e["outcome"]) for e in approvals] == [
        (lifts[0]["principal"], "refused"),
        (soc, "refused"),
        (soc, "allowed"),
    ]
