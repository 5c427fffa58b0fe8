"""Pseudonyms of row views: HMAC-SHA256 (RFC 2104) of the person's internal key under a
key of its own per view and per release, derived from the vault's pseudonym key with
HKDF-SHA256 (RFC 5869).

Per view: the rows of one person in two views do not join. Per release: a person's rows in
two releases do not join either; a stable pseudonym would link each person's successive
rows into a trajectory (département, then another; age band, then the next), and a
trajectory is far more unique than any one row that k-anonymity checked. The internal key
is the input because it never leaves the service; without the derived key the pseudonym
says nothing about it.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"strongroom/analytics/pseudonym/v1"
PSEUDONYM_BYTES = 12  # 96 bits: no collision among millions of rows


def view_key(root: bytes, view: str, release: int) -> bytes:
    info = b"\0".join([INFO, view.encode("utf-8"), str(release).encode("ascii")])
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(root)


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        self._mac = hmac.HMAC(key, hashes.SHA256())

    def __call__(self, person_pk: int) -> str:
        mac = self._mac.copy()
        mac.update(person_pk.to_bytes(8, "big", signed=True))
        return mac.finalize()[:PSEUDONYM_BYTES].hex()
