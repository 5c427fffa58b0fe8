"""`strongroom principal unlock`: an administrator lifts the lock failed sign-ins put on an
account, with a reason the journal keeps; an unknown principal or no reason is a clear
error (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from strongroom.auth.login import LoginFailed
from strongroom.cli.main import app
from strongroom.clock import FakeClock
from strongroom.compose import compose
from strongroom.config import Home

PASSWORD = "a long and boring passphrase"


def run(home: Path, *args: str):  # noqa: ANN201 - typer's Result
    return CliRunner().invoke(app, list(args), env={"STRONGROOM_HOME": str(home)})


def test_unlock_lifts_the_lock_and_is_journaled(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").exit_code == 0
    clock = FakeClock()
    svc = compose(Home(home), clock=clock)
    creds = svc.authorization_server.credentials
    creds.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    pid = svc.admin.add_principal(role="auditor", label="locked out")
    svc.admin.set_password(pid, "auditor", PASSWORD)
    reasons = []
    for _ in range(creds.rules.lock_after + 1):
        clock.advance(creds.rules.max_delay_seconds)
        with pytest.raises(LoginFailed) as failed:
            creds.authenticate("auditor", "not the password!", None, mfa_required=lambda p: False)
        reasons.append(failed.value.reason)
    assert reasons[-2:] == ["wrong_password", "locked"]
    svc.close()

    assert run(home, "principal", "unlock", pid).exit_code == 2  # --why is required
    r = run(home, "principal", "unlock", pid, "--why", "called back on the desk number")
    assert r.exit_code == 0, r.output
    unknown = run(home, "principal", "unlock", "nobody", "--why", "typo")
    assert unknown.exit_code == 2 and "no credentials" in unknown.output
    assert "Traceback" not in unknown.output

    svc = compose(Home(home), clock=clock)
    try:
        creds = svc.authorization_server.credentials
        result = creds.authenticate("auditor", PASSWORD, None, mfa_required=lambda p: False)
        assert result.principal_id == pid
        journal = svc.journal
        entries = [journal.entry(i) for i in range(journal.size())]
        unlocked = [e for e in entries if e.get("reason") == "sign_in_unlocked"]
        assert unlocked[-1]["detail"] == {
            "principal": pid,
            "why": "called back on the desk number",
        }
    finally:
        svc.close()
