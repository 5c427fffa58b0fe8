"""`strongroom export ...` end to end on a seeded home: request, approve, download to a
new 0600 file, trace it back to requester and approver."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from strongroom.cli.export_cmds import export_app
from tests.deployment import build_deployment

WHY = "Renewal letters for the département, semester 1"


def test_cli_request_approve_download_trace(tmp_path: Path) -> None:
    dep = build_deployment(tmp_path / "home", persons=200)
    dep.service.close()
    env = {"STRONGROOM_HOME": str(dep.home.path)}
    run = CliRunner().invoke
    agent = dep.principals["prefecture"]

    r = run(
        export_app,
        [
            "request",
            "--as",
            agent,
            "--dataset",
            "departement_permits_expiring",
            "--field",
            "ref.person_id",
            "--field",
            "permit.expires",
            "--justification",
            WHY,
            "--case",
            "CASE-9",
            "--json",
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    export_id = json.loads(r.output)["id"]

    r = run(export_app, ["approve", export_id, "--as", agent], env=env)
    assert r.exit_code == 2 and "role" in r.output  # a requester never approves
    r = run(export_app, ["approve", export_id, "--note", "campaign"], env=env)
    assert r.exit_code == 0, r.output

    out = tmp_path / "leak.csv"
    args = ["download", export_id, "--as", agent, "--case", "CASE-9", "--out", str(out)]
    r = run(export_app, args, env=env)
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().splitlines()[0] == "permit.expires,ref.person_id"
    out2 = tmp_path / "again.csv"
    r = run(export_app, [*args[:-1], str(out2)], env=env)
    assert r.exit_code == 2 and not out2.exists()

    r = run(export_app, ["trace", str(out), "--json"], env=env)
    assert r.exit_code == 0, r.output
    (hit,) = json.loads(r.output)
    assert hit["id"] == export_id and hit["requester"] == agent
    assert hit["decided_by"].startswith("operator:")

    clean = tmp_path / "clean.csv"
    clean.write_text(out.read_text().lower())
    r = run(export_app, ["trace", str(clean)], env=env)
    # Lower-cased: only a canary can name it; this small export has 3 of them.
    assert r.exit_code == 0 and export_id in r.output
