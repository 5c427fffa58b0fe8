"""Public identifiers. Everything that leaves the service is named by a random UUIDv4:
no order, no sequence, nothing to enumerate."""

from __future__ import annotations

import uuid


def new_public_id() -> str:
    return str(uuid.uuid4())


def is_public_id(value: str) -> bool:
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return parsed.version == 4 and str(parsed) == value
