"""Every table the registry database holds, for Alembic: the registry's own, the
authorization server's (sessions, revocations), the detectors' (containments), the
exports' (requests, approvals), the analytics suppression ledger and the leases that
let one worker do a periodic job (journal/lease.py). Shared state lives
here so every worker sees the same."""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> list[MetaData]:
    from strongroom.analytics.ledger import metadata as analytics_metadata
    from strongroom.auth.store import metadata as auth_metadata
    from strongroom.detect.store import metadata as detect_metadata
    from strongroom.exports.store import metadata as exports_metadata
    from strongroom.journal.lease import metadata as lease_metadata
    from strongroom.registry.models import Base

    return [
        Base.metadata,
        auth_metadata,
        detect_metadata,
        exports_metadata,
        analytics_metadata,
        lease_metadata,
    ]
