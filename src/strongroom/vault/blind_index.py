"""Blind indexes: keyed HMAC-SHA256 (RFC 2104) over normalized values, for exact-match
lookup on encrypted fields (family name + birth date, permit number, weapon serial).

Normalization (`normalize`), applied to every value before hashing, in this order:
  1. case folding (`str.casefold`: "DUPONT" -> "dupont", "Straße" -> "strasse");
  2. NFKD decomposition, then every combining mark dropped ("Éléonore" -> "eleonore",
     compatibility forms folded: "ﬁ" -> "fi", full-width digits -> ASCII digits);
  3. apostrophes (' ’ ‘ ʼ ` ´) removed: "O'Brien" == "O’Brien" == "OBrien";
  4. hyphens and dashes (- ‐ ‑ ‒ – — −) become a space: "Jean-Pierre" == "Jean Pierre";
  5. whitespace collapsed to single spaces and trimmed.
Nothing else is removed, so "Dupont" and "Dupond" or "Dupon" stay different: a blind index
answers exact equality only; it cannot do a prefix, a wildcard or a near miss.

The message is the `kind` (domain separation: the same value indexed as a "permit" and as a
"serial" gives unrelated digests) followed by each normalized value, each length-prefixed so
("ab", "c") and ("a", "bc") differ. The digest is truncated to 16 bytes (128 bits: a
collision needs ~2^64 values; a registry holds < 2^27).
"""

from __future__ import annotations

import re
import unicodedata

from cryptography.hazmat.primitives import hashes, hmac

from strongroom.errors import BadRequest

DIGEST_BYTES = 16
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2019\u2018\u02bc`\u00b4"), None)
_HYPHENS = dict.fromkeys(map(ord, "-\u2010\u2011\u2012\u2013\u2014\u2212"), " ")
_FOLD = {**_APOSTROPHES, **_HYPHENS}
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def normalize(value: str) -> str:
    """The canonical form of `value` that blind indexes hash (see the module docstring)."""
    if not isinstance(value, str):
        raise TypeError("blind-indexed values are str")
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.translate(_FOLD).split())


def _part(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


class BlindIndexer:
    """HMAC-SHA256 blind indexes under one key (`version` of the blind-index key: rows
    record which one indexed them, `index_ring.py`), domain-separated by kind."""

    def __init__(self, key: bytes, version: int = 1) -> None:
        if len(key) < 32:
            raise ValueError("the blind-index key must be at least 32 bytes")
        self._key = bytes(key)
        self.version = version

    def digest(self, kind: str, *values: str) -> bytes:
        if not _KIND.match(kind):
            raise ValueError(f"invalid blind-index kind {kind!r}")
        if not values:
            raise ValueError("a blind index needs at least one value")
        mac = hmac.HMAC(self._key, hashes.SHA256())
        mac.update(_part(kind))
        for value in values:
            canonical = normalize(value)
            if not canonical:
                # An empty value would match every row whose value is empty: no wildcard.
                raise BadRequest("an exact-match search value cannot be empty")
            mac.update(_part(canonical))
        return mac.finalize()[:DIGEST_BYTES]
