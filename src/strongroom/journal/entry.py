"""Journal entries: RFC 8785 (JSON Canonicalization Scheme) bytes of an AccessEvent entry.

Only the keys of `AccessEvent.to_entry()` are accepted, so a record (with its PII values)
cannot be journaled by mistake under some other key; values are IDs, field names, counts
and codes. Canonical bytes make the leaf hash independent of key order and float spelling.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
import rfc8785

from strongroom.errors import BadRequest
from strongroom.journal import tables
from strongroom.journal.canonical import canonical
from strongroom.journal.rfc6962 import leaf_hash


class IndexRows(NamedTuple):
    """What the investigation indexes hold of one entry."""

    principal: str
    ts: float
    subjects: tuple[str, ...]
    contained: str | None  # the principal this entry contains, if any
    keys: tuple[int, ...]  # the subjects' keys in journal_subjects, distinct
    role: str
    records: int
    revealing: bool  # counted in journal_activity: it disclosed data, and not to an admin
    alert: tuple[bool, str | None] | None  # journal_alerts: (the detector's, reason)


class Prepared(NamedTuple):
    """One entry ready to append: its canonical bytes, leaf hash, and index rows (kept by
    the writer until it indexes them, so it need not read the entry back)."""

    entry: bytes
    leaf_hash: bytes
    rows: IndexRows  # not `index`, which would shadow tuple.index


ALLOWED_KEYS = frozenset(
    {
        "v",
        "ts",
        "kind",
        "principal",
        "role",
        "endpoint",
        "outcome",
        "session",
        "client",
        "ip",
        "user_agent",
        "purpose",
        "justification",
        "case",
        "subjects",
        "fields",
        "records",
        "reason",
        "detail",
    }
)
REQUIRED_KEYS = ("v", "ts", "kind", "principal", "outcome")
_REQUIRED = frozenset(REQUIRED_KEYS)
# Outcomes that disclosed data, and the endpoint the detectors journal their decisions
# under (the console's curves and alerts read them from the indexes).
REVEALING = frozenset({"allowed", "masked"})
DETECTOR_ENDPOINT = "detect"
_is_str = str.__instancecheck__  # isinstance(x, str), mapped in C over a list


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
    keys = entry.keys()
    if not keys <= ALLOWED_KEYS:
        raise BadRequest(f"journal entry has unknown keys: {sorted(keys - ALLOWED_KEYS)}")
    if not keys >= _REQUIRED:
        raise BadRequest(f"journal entry lacks {[k for k in REQUIRED_KEYS if k not in keys]}")
    subjects = entry.get("subjects") or []
    if not isinstance(subjects, list) or not all(map(_is_str, subjects)):
        raise BadRequest("journal entry subjects must be a list of IDs")
    if not isinstance(entry["ts"], int | float) or isinstance(entry["ts"], bool):
        raise BadRequest("journal entry ts must be a number")
    try:
        data = canonical(entry)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise BadRequest(f"journal entry is not canonical JSON: {exc}") from exc
    return Prepared(data, leaf_hash(data), index_rows(entry))


def index_rows(entry: dict[str, Any]) -> IndexRows:
    subjects = tuple(entry.get("subjects") or ())
    if len(subjects) == 1:  # most entries: nothing to deduplicate
        keys: tuple[int, ...] = (tables.subject_key(subjects[0]),)
    else:
        subjects = tuple(dict.fromkeys(subjects))
        keys = tuple(dict.fromkeys(map(tables.subject_key, subjects)))
    kind = entry.get("kind")
    detector = entry.get("endpoint") == DETECTOR_ENDPOINT
    reason = entry.get("reason")
    return IndexRows(
        str(entry["principal"]),
        float(entry["ts"]),
        subjects,
        containment_target(entry),
        keys,
        str(entry.get("role") or ""),
        int(entry.get("records", 0)),
        entry.get("outcome") in REVEALING and kind != "admin",
        (detector, None if reason is None else str(reason))
        if detector or kind == "security"
        else None,
    )


def decode(data: bytes) -> dict[str, Any]:
    """An entry's bytes as written by `prepare`: a JSON object."""
    entry: dict[str, Any] = orjson.loads(data)
    return entry
