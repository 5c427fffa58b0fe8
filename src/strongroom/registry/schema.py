"""Every table the registry database holds, for Alembic: the registry's own, the
authorization server's (sessions, revocations), the detectors' (containments), the
exports' (requests, approvals), the analytics suppression ledger, the console's sessions,
the journal's verification run and the leases that let one worker do a periodic job
(journal/lease.py). Shared state lives here so every worker sees the same."""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> list[MetaData]:
    from strongroom.analytics.ledger import metadata as analytics_metadata
    from strongroom.auth.client_sessions import metadata as console_metadata
    from strongroom.auth.store import metadata as auth_metadata
    from strongroom.detect.store import metadata as detect_metadata
    from strongroom.exports.store import metadata as exports_metadata
    from strongroom.gate.verification_runs import metadata as verification_metadata
    from strongroom.journal.lease import metadata as lease_metadata
    from strongroom.registry.models import Base

    return [
        Base.metadata,
        auth_metadata,
        detect_metadata,
        exports_metadata,
        analytics_metadata,
        console_metadata,
        verification_metadata,
        lease_metadata,
    ]
