"""A real `strongroom serve` process for a home, as the product runs one for the drill's
baseline (`strongroom.posture.served`): on a free loopback port, its log kept in the home,
stopped with SIGTERM (the journal is closed, its tail committed) when the block ends, or
with the signal given (SIGKILL: a crash)."""

from typing import Any

from strongroom.clock import SYSTEM_CLOCK
from strongroom.config import Settings
from strongroom.journal import Journal
from strongroom.posture.served import free_port, served

__all__ = ["free_port", "journal_entries", "served"]


def journal_entries(settings: Settings) -> list[dict[str, Any]]:
    """Every entry of a stopped server's journal, read from its database."""
    journal = Journal.open(settings.journal_url, signer=None, clock=SYSTEM_CLOCK)
    try:
        return [journal.entry(i) for i in range(journal.size())]
    finally:
        journal.close()
