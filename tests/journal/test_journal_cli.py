"""`strongroom journal` and `strongroom investigate` on a temporary STRONGROOM_HOME."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from strongroom.cli.journal_cmds import investigate_app, journal_app
from strongroom.clock import FakeClock
from strongroom.config import Home
from strongroom.journal import Journal, load_signer, rfc6962

from .helpers import T0, event

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    h = Home(tmp_path / "home")
    h.ensure_dirs()
    h.write_config(h.default_settings())
    monkeypatch.setenv("STRONGROOM_HOME", str(h.path))
    return h


def _fill(home: Home, n: int = 12) -> None:
    j = Journal.open(
        home.settings().journal_url,
        signer=load_signer(home.keys_dir),
        clock=FakeClock(),
        checkpoint_every=5,
    )
    for i in range(n):
        j.append(event(i, principal="mallory" if i % 2 else "bob"))
    j.close()


def test_key_checkpoint_verify_and_proofs(home: Home, tmp_path: Path) -> None:
    res = runner.invoke(journal_app, ["init-key"])
    assert res.exit_code == 0 and res.output.startswith("strongroom.local/journal+")
    assert runner.invoke(journal_app, ["init-key"]).exit_code == 2  # never replaced
    _fill(home)
    out = tmp_path / "cp.txt"
    res = runner.invoke(journal_app, ["checkpoint", "--export", str(out)])
    assert res.exit_code == 0 and "\n12\n" in res.output and out.read_text() == res.output
    res = runner.invoke(journal_app, ["verify", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["ok"] is True
    res = runner.invoke(journal_app, ["proof", "inclusion", "3", "--size", "12"])
    assert res.exit_code == 0
    d = json.loads(res.output)
    rfc6962.verify_inclusion(
        3,
        12,
        base64.b64decode(d["leaf_hash"]),
        [base64.b64decode(p) for p in d["proof"]],
        base64.b64decode(d["root"]),
    )
    res = runner.invoke(journal_app, ["proof", "consistency", "5", "12"])
    assert res.exit_code == 0 and len(json.loads(res.output)["proof"]) > 0
    res = runner.invoke(journal_app, ["proof", "inclusion", "30", "--size", "12"])
    assert res.exit_code == 2 and "error:" in res.output and "Traceback" not in res.output

    engine = sa.create_engine(home.settings().journal_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM journal_leaves WHERE idx = 7"))
    engine.dispose()
    res = runner.invoke(journal_app, ["verify"])
    assert res.exit_code == 1 and "first bad index 7" in res.output
    res = runner.invoke(journal_app, ["verify", "--json"])
    assert res.exit_code == 1 and json.loads(res.output)["first_bad_index"] == 7


def test_investigate_commands(home: Home) -> None:
    runner.invoke(journal_app, ["init-key"])
    _fill(home)
    res = runner.invoke(
        investigate_app,
        ["principal", "mallory", "--since", str(T0), "--until", "2026-01-02T00:00:00", "--json"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["entries"] == 6
    res = runner.invoke(investigate_app, ["subject", "s-1"])
    assert res.exit_code == 0 and json.loads(res.output)["subject"] == "s-1"
    res = runner.invoke(
        investigate_app, ["breach", "--principal", "mallory", "--principal", "bob", "--markdown"]
    )
    assert res.exit_code == 0 and "Data subjects concerned: 5" in res.output
    res = runner.invoke(investigate_app, ["breach", "--principal", "bob", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["contained"] is False
    res = runner.invoke(investigate_app, ["principal", "x", "--since", "yesterday"])
    assert res.exit_code == 2 and "not a time" in res.output


def test_missing_home_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_HOME", str(tmp_path / "nowhere"))
    res = runner.invoke(journal_app, ["verify"])
    assert res.exit_code == 2 and "strongroom init" in res.output


def test_investigating_an_id_the_journal_never_saw_fails(home: Home) -> None:
    runner.invoke(journal_app, ["init-key"])
    _fill(home)
    for args in (["principal", "nobody"], ["principal", "nobody", "--json"]):
        res = runner.invoke(investigate_app, args)
        assert res.exit_code == 1, res.output
        assert "no entry for principal nobody" in res.output and "Traceback" not in res.output
    res = runner.invoke(investigate_app, ["principal", "nobody", "--since", str(T0)])
    assert res.exit_code == 1 and "no entry for principal nobody" in res.output
    res = runner.invoke(investigate_app, ["subject", "s-nobody"])
    assert res.exit_code == 1 and "no entry for subject s-nobody" in res.output
    # Known IDs still answer, a known principal even for a window where it was quiet.
    res = runner.invoke(investigate_app, ["principal", "mallory"])
    assert res.exit_code == 0 and "principal mallory: 6 entries" in res.output
    res = runner.invoke(investigate_app, ["principal", "mallory", "--until", str(T0), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["entries"] == 0
    res = runner.invoke(investigate_app, ["subject", "s-2"])
    assert res.exit_code == 0 and json.loads(res.output)["accesses"]
