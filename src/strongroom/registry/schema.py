"""Every table the registry database holds, for Alembic: the registry's own, the
authorization server's (sessions, revocations) and the detectors' (containments)."""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> list[MetaData]:
    from strongroom.auth.store import metadata as auth_metadata
    from strongroom.exports.store import metadata as exports_metadata
    from strongroom.registry.models import Base

    found = [Base.metadata, auth_metadata, exports_metadata]
    try:
        from strongroom.detect.store import metadata as detect_metadata
    except ImportError:  # the detectors' store lands separately
        return found
    return [*found, detect_metadata]
