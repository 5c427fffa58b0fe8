"""Watermarks that trace a leaked export back to the export it came from.

Two independent marks, both keyed with HMAC-SHA256 (RFC 2104) under the export key, so
nobody without the key can find, remove selectively or forge them:

1. **Fingerprint in identifier case.** UUIDs are case-insensitive on input (RFC 9562
   §4), so the case of each hex letter is free. In export E, letter j of UUID u is
   upper-case iff bit j of BLAKE2b-MAC(K_E, lower(u)) (RFC 7693, keyed mode) is set, with
   K_E = HMAC(key, E). Each UUID carries its own bits (about 12), independently of every
   other UUID and every other export, so a wrong export matches a line by chance with
   probability 2^-(letters on the line), line by line; the evidence adds up over lines.
   A UUID alone is enough, whatever line or column it sits in, so the fingerprint survives
   re-sorting, dropping columns (as long as one `ref.*` column is left), fragments of a
   few rows, CSV <-> JSON conversion, merging several leaks, and any tool that keeps
   strings as they are. It does not survive a deliberate lower-casing of every ID.
2. **Canary rows.** Synthetic but plausible rows whose IDs are derived from HMAC(key,
   export ID, i) and recorded only as keyed marks (HMAC(key, ID)) in `export_canaries`.
   They survive everything the fingerprint survives and lower-casing too; they are lost
   only if the leaker happens to drop exactly them (they cannot tell which they are).
   About 2% of rows (at least 3): a 50-row fragment holds at least one with probability
   about 64%.

What neither survives: removing every ID column, or re-keying the IDs. Aggregate exports
(counts) carry no ID and are not watermarked; small-cell suppression protects them.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WATERMARK_SCHEME = 1
CANARY_RATE = 0.02
MIN_CANARIES = 3
MAX_CANARIES = 2000
UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
)
_HEX_LETTERS = frozenset("abcdef")
_UPPER = {c: c.upper() for c in "abcdef"}


def export_key(honey_key: bytes) -> bytes:
    """A key of its own for export watermarks, derived from the honey key (RFC 5869), so
    the honey-record marks and the export marks never share a key."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"strongroom export watermark v1"
    ).derive(honey_key)


def _mac(key: bytes, *parts: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SHA256())
    for p in parts:
        h.update(len(p).to_bytes(4, "big"))
        h.update(p)
    return h.finalize()


def uuid4_from(digest: bytes) -> str:
    """A well-formed UUIDv4 string from 16 pseudorandom bytes (version and variant set)."""
    b = bytearray(digest[:16])
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Observation:
    """One UUID as found in a leaked file: its lower-case form and the case of its
    letters (`value`, bit j = letter j upper-case; `bits` letters in all)."""

    lower: str
    bits: int
    value: int


class Watermark:
    """The keyed marks of every export, from one export key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the export key must be at least 16 bytes")
        self._key = key

    # --- per export -----------------------------------------------------------------------
    def fingerprint_key(self, export_id: str) -> bytes:
        return _mac(self._key, b"fingerprint", export_id.encode())

    def canary_mark(self, value: str) -> bytes:
        return _mac(self._key, b"canary-mark", value.lower().encode("ascii"))

    def canary_count(self, real_rows: int) -> int:
        return min(MAX_CANARIES, max(MIN_CANARIES, math.ceil(real_rows * CANARY_RATE)))

    def canary_positions(self, export_id: str, real_rows: int, count: int) -> list[int]:
        """Where canary i goes: before real row p (p == real_rows: at the end). Keyed, so
        positions look uniform and differ per export."""
        return sorted(
            int.from_bytes(_mac(self._key, b"pos", export_id.encode(), str(i).encode())[:8], "big")
            % (real_rows + 1)
            for i in range(count)
        )

    def canary_bytes(self, export_id: str, index: int, what: str) -> bytes:
        """32 pseudorandom bytes for canary `index`'s attribute `what` (an ID, a choice)."""
        return _mac(self._key, b"canary", export_id.encode(), str(index).encode(), what.encode())

    def canary_id(self, export_id: str, index: int, field: str) -> str:
        return uuid4_from(self.canary_bytes(export_id, index, field))

    # --- the case fingerprint ---------------------------------------------------------------
    @staticmethod
    def expected(fkey: bytes, lower: str) -> int:
        """The case bits export key `fkey` gives the UUID `lower`."""
        digest = hashlib.blake2b(lower.encode("ascii"), key=fkey, digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def mark_id(self, value: str, fkey: bytes) -> str:
        """The UUID with its hex letters' case set by the export's fingerprint key."""
        lower = value.lower()
        bits = self.expected(fkey, lower)
        out = list(lower)
        j = 0
        for i, ch in enumerate(out):
            if ch in _HEX_LETTERS:
                if (bits >> j) & 1:
                    out[i] = _UPPER[ch]
                j += 1
        return "".join(out)

    @staticmethod
    def observe(seen: str) -> Observation:
        value = j = 0
        for ch in seen:
            if ch.lower() in _HEX_LETTERS:
                value |= (1 if ch.isupper() else 0) << j
                j += 1
        return Observation(seen.lower(), j, value)

    @staticmethod
    def matches(fkey: bytes, seen: Observation) -> bool:
        mask = (1 << seen.bits) - 1
        return (Watermark.expected(fkey, seen.lower) & mask) == seen.value


def find_ids(line: str) -> Iterator[str]:
    return (m.group(0) for m in UUID_RE.finditer(line))
