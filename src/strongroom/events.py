"""The access event: one per gate decision. The journal stores it (canonical JSON, no PII
values, ever) and the detectors consume it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["allowed", "masked", "refused", "contained", "error"]
Kind = Literal["access", "admin", "security"]


@dataclass(frozen=True)
class AccessEvent:
    ts: float
    kind: Kind
    principal: str
    role: str
    endpoint: str
    outcome: Outcome
    session: str | None = None
    client: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    purpose: str | None = None
    justification: str | None = None
    case: str | None = None
    subjects: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    records: int = 0
    reason: str | None = None
    # Endpoint-specific, non-PII facts the detectors need (e.g. "matched": false for a
    # search that found nothing, the département asked for, the page cursor position).
    detail: dict[str, Any] = field(default_factory=dict)

    def to_entry(self) -> dict[str, Any]:
        """The journal entry: plain JSON types, ready for RFC 8785 canonicalization."""
        entry = asdict(self)
        entry["subjects"] = list(self.subjects)
        entry["fields"] = list(self.fields)
        entry["v"] = 1
        return {k: v for k, v in entry.items() if v is not None}
