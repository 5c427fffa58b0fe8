"""The access event: one per gate decision. The journal stores it (canonical JSON, no PII
values, ever) and the detectors consume it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
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
    # Where the value asked for falls in its order (`gate/sort_keys.py`): for the
    # detectors only. Never journaled: it derives from what was typed.
    sort_key: float | None = None

    def to_entry(self) -> dict[str, Any]:
        """The journal entry: plain JSON types, ready for RFC 8785 canonicalization."""
        # Not dataclasses.asdict: its recursive copy cost more than the journal append.
        entry = {k: v for k in _FIELDS if (v := getattr(self, k)) is not None}
        entry["subjects"] = list(self.subjects)
        entry["fields"] = list(self.fields)
        entry["detail"] = copy.deepcopy(self.detail) if self.detail else {}
        entry["v"] = 1
        return entry

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> AccessEvent:
        """The event a journal entry records (the inverse of `to_entry`)."""
        values = {k: entry[k] for k in _FIELDS if k in entry}
        values["subjects"] = tuple(entry.get("subjects", ()))
        values["fields"] = tuple(entry.get("fields", ()))
        values["detail"] = dict(entry.get("detail") or {})
        return cls(**values)


_FIELDS = tuple(f.name for f in fields(AccessEvent) if f.name != "sort_key")
