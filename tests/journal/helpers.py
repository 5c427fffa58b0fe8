"""Shared helpers for the journal tests (plain functions, no fixtures)."""

from __future__ import annotations

from typing import Any

from strongroom.events import AccessEvent

T0 = 1_767_225_600.0


def event(
    i: int,
    *,
    principal: str | None = None,
    subjects: tuple[str, ...] | None = None,
    fields: tuple[str, ...] = ("identity.family_name", "address.city"),
    outcome: str = "allowed",
    ts: float | None = None,
    **kw: Any,
) -> dict[str, Any]:
    return AccessEvent(
        ts=T0 + i if ts is None else ts,
        kind=kw.pop("kind", "access"),
        principal=principal or f"p-{i % 3}",
        role=kw.pop("role", "police"),
        endpoint=kw.pop("endpoint", "owners.get"),
        outcome=outcome,  # type: ignore[arg-type]
        purpose=kw.pop("purpose", "investigation"),
        subjects=subjects if subjects is not None else (f"s-{i % 5}",),
        fields=fields,
        records=kw.pop("records", 1),
        **kw,
    ).to_entry()


def completes(i: int) -> int:
    """How many tree nodes leaf i completes: the trailing zero bits of i + 1 (written out
    here, apart from rfc6962.Frontier, so the tests check it rather than reuse it)."""
    return ((i + 1) & -(i + 1)).bit_length() - 1
