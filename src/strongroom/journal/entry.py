"""Journal entries: RFC 8785 (JSON Canonicalization Scheme) bytes of an AccessEvent entry.

Only the keys of `AccessEvent.to_entry()` are accepted, so a record (with its PII values)
cannot be journaled by mistake under some other key; values are IDs, field names, counts
and codes. Canonical bytes make the leaf hash independent of key order and float spelling.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from strongroom.errors import BadRequest
from strongroom.journal import schema
from strongroom.journal.canonical import canonical
from strongroom.journal.rfc6962 import leaf_hash
from strongroom.journal.store import Prepared

ALLOWED_KEYS = frozenset({
    "v", "ts", "kind", "principal", "role", "endpoint", "outcome", "session", "client",
    "ip", "user_agent", "purpose", "justification", "case", "subjects", "fields", "records",
    "reason", "detail",
})
REQUIRED_KEYS = ("v", "ts", "kind", "principal", "outcome")


def containment_target(entry: dict[str, Any]) -> str | None:
    """The principal an entry contains, if it is a containment: outcome "contained", or a
    security entry whose reason starts with "contained". An administrator's action names
    its target in detail.target (or detail.principal); otherwise it is the entry's own
    principal."""
    reason = entry.get("reason") or ""
    if entry.get("outcome") != "contained" and not (
        entry.get("kind") == "security" and str(reason).startswith("contained")
    ):
        return None
    detail = entry.get("detail") or {}
    target = detail.get("target") or detail.get("principal") or entry["principal"]
    return str(target)


def prepare(entry: dict[str, Any]) -> Prepared:
    if not isinstance(entry, dict):
        raise BadRequest("a journal entry is a JSON object")
    unknown = set(entry) - ALLOWED_KEYS
    if unknown:
        raise BadRequest(f"journal entry has unknown keys: {sorted(unknown)}")
    missing = [k for k in REQUIRED_KEYS if k not in entry]
    if missing:
        raise BadRequest(f"journal entry lacks {missing}")
    subjects = entry.get("subjects") or []
    if not isinstance(subjects, list) or not all(isinstance(x, str) for x in subjects):
        raise BadRequest("journal entry subjects must be a list of IDs")
    if not isinstance(entry["ts"], int | float) or isinstance(entry["ts"], bool):
        raise BadRequest("journal entry ts must be a number")
    try:
        data = canonical(entry)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise BadRequest(f"journal entry is not canonical JSON: {exc}") from exc
    return Prepared(
        entry=data,
        leaf_hash=leaf_hash(data),
        ts=float(entry["ts"]),
        principal=str(entry["principal"]),
        kind=str(entry["kind"]),
        outcome=str(entry["outcome"]),
        subject_keys=tuple({schema.subject_key(x): None for x in subjects}),  # one row per subject
        contained=containment_target(entry),
    )


def decode(data: bytes) -> dict[str, Any]:
    return json.loads(data)
