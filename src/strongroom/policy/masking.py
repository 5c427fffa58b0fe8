"""The masking functions a rule can name, built once per (role, purpose, field) at compile
time. Each takes (value, requester_id) and returns what leaves the service.

- `partial`: first character, then stars up to a fixed length ("D*******"), so the output
  length says nothing about the value's length.
- `generalize`: per the field's declared generalizer: `year` (1984-05-02 -> "1984"),
  `month` ("1984-05"), `departement` (postcode -> département code: first two digits;
  Corsica 20000-20199 -> "2A", 20200-20999 -> "2B"; overseas 97xxx/98xxx -> three digits),
  `drop` (no safe coarser form exists, e.g. a street: the field is removed, as if denied).
- `pseudonym`: HMAC-SHA256(key, requester || field || value), truncated, base32: stable for
  one requester (they can tell "the same buyer again") and unlinkable across requesters.
  Parts are length-prefixed so ("ab", "c") and ("a", "bc") never collide.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

Masker = Callable[[object, str], object]
STAR = "*"


def _text(value: object) -> str:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def partial(length: int) -> Masker:
    def mask(value: object, requester: str) -> object:
        if value is None:
            return None
        text = _text(value)
        return (text[:1] or STAR) + STAR * (length - 1)

    return mask


def _year(value: object, requester: str) -> object:
    if value is None:
        return None
    if isinstance(value, dt.date | dt.datetime):
        return f"{value.year:04d}"
    return _text(value)[:4]


def _month(value: object, requester: str) -> object:
    if value is None:
        return None
    if isinstance(value, dt.date | dt.datetime):
        return f"{value.year:04d}-{value.month:02d}"
    return _text(value)[:7]


def departement_of(postcode: str) -> str:
    """The département code of a French postcode."""
    code = postcode.strip()
    if code.startswith("20") and len(code) == 5 and code.isdigit():
        return "2A" if int(code) < 20200 else "2B"
    if code[:2] in ("97", "98"):
        return code[:3]
    return code[:2]


def _departement(value: object, requester: str) -> object:
    if value is None:
        return None
    return departement_of(_text(value))


GENERALIZERS: dict[str, Masker | None] = {
    "year": _year,
    "month": _month,
    "departement": _departement,
    "drop": None,
}


def _frame(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part


def pseudonym(key: bytes, field: str, length: int) -> Masker:
    """A keyed pseudonym for one field. The HMAC state with the key and field already
    absorbed is copied per value, so the key schedule runs once, not per record."""
    if len(key) < 16:
        raise ValueError("the pseudonym key must be at least 16 bytes")
    base = HMAC(key, hashes.SHA256())
    field_frame = _frame(field.encode())
    nbytes = (length * 5 + 7) // 8

    def mask(value: object, requester: str) -> object:
        if value is None:
            return None
        h = base.copy()
        h.update(_frame(requester.encode()))
        h.update(field_frame)
        h.update(_frame(_text(value).encode()))
        digest = h.finalize()[:nbytes]
        return base64.b32encode(digest).decode("ascii").rstrip("=").lower()[:length]

    return mask


def masker(
    action: str,
    *,
    field: str,
    generalizer: str,
    key: bytes,
    partial_length: int,
    pseudonym_length: int,
) -> Masker | None:
    """The callable for one rule; None means `reveal` (the value passes unchanged)."""
    if action == "reveal":
        return None
    if action == "partial":
        return partial(partial_length)
    if action == "generalize":
        fn = GENERALIZERS[generalizer]
        if fn is None:
            raise ValueError(f"{field} has no generalization")
        return fn
    if action == "pseudonym":
        return pseudonym(key, field, pseudonym_length)
    raise ValueError(f"action {action!r} has no masker")
