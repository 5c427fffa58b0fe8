"""The scaled deployment's own scripts (deploy/setup.sh, deploy/node.sh, which
deploy/compose.yaml runs in containers), run here against the local PostgreSQL and Redis:
set-up writes the shared home once (a second run changes no key), two nodes with homes
of their own serve the same registry, a witness of our own holds the journal's
checkpoints, and `journal verify` checks the journal against it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from strongroom.auth.rfc9068 import TokenService
from strongroom.config import Home
from strongroom.posture.served import running
from tests.conftest import pg_database
from tests.served import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STRONGROOM = str(BIN / "strongroom")


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_two_nodes_and_a_witness_from_the_deploy_scripts(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    witness_port, ports = free_port(), [free_port(), free_port()]
    # The password as a Compose secret would hold it (the local server trusts 127.0.0.1,
    # so it is carried, not checked: tests/test_config_passwords.py checks it).
    secret = tmp_path / "secrets" / "postgres_password"
    secret.parent.mkdir()
    secret.write_text("s3cret@:/pw\n")
    with pg_database() as registry_url, pg_database() as journal_url, ExitStack() as stack:
        env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            "STRONGROOM": STRONGROOM,
            "PYTHON": sys.executable,
            "SHARED_HOME": str(tmp_path / "shared"),
            "WITNESS_HOME": str(tmp_path / "witness"),
            "DATABASE_URL": registry_url,
            "JOURNAL_URL": journal_url,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": redis_prefix,
            "WITNESS_URL": f"http://127.0.0.1:{witness_port}/",
            "PUBLIC_URL": f"http://127.0.0.1:{ports[0]}",
            "MODE": "demo",
            "DATABASE_PASSWORD_FILE": str(secret),
        }
        setup = run(["bash", str(ROOT / "deploy" / "setup.sh")], env)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        shared = Home(tmp_path / "shared")
        keys = {p.name: digest(p) for p in shared.keys_dir.iterdir()}
        again = run(["bash", str(ROOT / "deploy" / "setup.sh")], env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert {p.name: digest(p) for p in shared.keys_dir.iterdir()} == keys
        settings = shared.settings()
        assert len(settings.witnesses) == 1 and settings.redis_url == redis_url
        config = shared.config_path.read_text()
        assert f'registry_password_file = "{secret}"' in config and "s3cret" not in config
        assert "s3cret" not in setup.stdout + setup.stderr

        as_shared = {**env, "STRONGROOM_HOME": str(shared.path)}
        seeded = run([STRONGROOM, "seed", "--persons", "200", "--seed", "4"], as_shared)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        added = run([STRONGROOM, "principal", "add", "--role", "police"], as_shared)
        police = added.stdout.strip()

        stack.enter_context(
            running(
                [STRONGROOM, "witness", "serve", "--home", env["WITNESS_HOME"]]
                + ["--port", str(witness_port)],
                env,
                tmp_path / "witness.log",
                f"http://127.0.0.1:{witness_port}/",
            )
        )
        for i, port in enumerate(ports):
            node_env = {
                **env,
                "NODE_HOME": str(tmp_path / f"node{i}"),
                "PORT": str(port),
                "HOST": "127.0.0.1",
                "WORKERS": "1",
            }
            stack.enter_context(
                running(
                    ["bash", str(ROOT / "deploy" / "node.sh")],
                    node_env,
                    tmp_path / f"node{i}.log",
                    f"http://127.0.0.1:{port}/readyz",
                )
            )

        issuer = TokenService(shared.keys_dir, issuer=settings.issuer, audience=settings.audience)
        token = issuer.issue_access_token(
            subject=police, role="police", scopes={"weapons:lookup"}, purpose="police_check"
        )
        serial = json.loads((shared.path / "demo.json").read_text())["fixtures"]["weapon_serial"]
        for port in ports:
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/weapons/lookup",
                json={"serial": serial},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).json()
            assert ready["status"] == "ready", ready
        # Each node kept a home of its own, with the shared keys.
        for i in range(2):
            node = Home(tmp_path / f"node{i}")
            assert {p.name: digest(p) for p in node.keys_dir.iterdir()} == keys

        # Witnessed by the nodes themselves, within seconds of their first entries.
        deadline = time.monotonic() + 20
        while (verified := run([STRONGROOM, "journal", "verify"], as_shared)).returncode:
            assert time.monotonic() < deadline, verified.stdout + verified.stderr
            time.sleep(0.5)
        checkpoint = run([STRONGROOM, "journal", "checkpoint"], as_shared)
        assert checkpoint.returncode == 0, checkpoint.stdout + checkpoint.stderr
        verified = run([STRONGROOM, "journal", "verify", "--json"], as_shared)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        report = json.loads(verified.stdout)
        (held,) = report["witnesses"]
        assert f"holds size {report['size']}" in held, report
