"""Closing the composed service (what a served worker does on SIGTERM, after its last
request): the journal is closed with its queued refusals committed under its signed tail,
even when saving the budgets fails first."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.clock import SYSTEM_CLOCK
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from strongroom.journal import Journal


def test_the_journal_closes_signed_when_saving_the_budgets_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path / "home")
    initialize(home)
    svc = compose(home)
    for _ in range(3):
        svc.pipeline.record_security(None, "GET /v1/me", reason="missing_token", ip="192.0.2.1")
    assert svc.budget_state is not None

    def disk_full() -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(svc.budget_state, "close", disk_full)
    svc.close()
    journal = Journal.open(home.settings().journal_url, signer=None, clock=SYSTEM_CLOCK)
    try:
        size = journal.size()
        assert size == 3
        assert journal.checkpoints()[-1][1] == size
    finally:
        journal.close()


def test_refusals_queued_at_close_are_under_the_signed_tail(tmp_path: Path) -> None:
    """Refusals do not wait for their commit; closing right after them must still count
    them before deciding what to sign (the size read before the flush missed them)."""
    home = Home(tmp_path / "home")
    initialize(home)
    for round_ in range(3):
        svc = compose(home)
        for _ in range(50):
            svc.pipeline.record_security(None, "GET /v1/me", reason="missing_token")
        svc.close()
        journal = Journal.open(home.settings().journal_url, signer=None, clock=SYSTEM_CLOCK)
        try:
            assert journal.size() == 50 * (round_ + 1)
            assert journal.checkpoints()[-1][1] == journal.size()
        finally:
            journal.close()
