"""What an incremental refresh keeps between releases, sealed: each person's contribution
to the counts and the counts themselves hold generalized values (an age band, a commune)
the registry itself keeps only encrypted, so they are stored under AES-GCM, and the
indexes beside them are keyed HMACs that say nothing without the key.

Every key is derived (HKDF-SHA256, RFC 5869) from the vault's pseudonym key, one per use.
"""

from __future__ import annotations

import os
from datetime import date

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"strongroom/analytics/state/v1/"
NONCE = 12
TAG_BYTES = 16


def _derive(root: bytes, use: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO + use.encode()).derive(
        root
    )


def _mac(key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


class StateKeys:
    def __init__(self, root: bytes) -> None:
        self._aead = AESGCM(_derive(root, "seal"))
        self._week = _derive(root, "recheck-week")
        self._commune = _derive(root, "commune")

    def seal(self, data: bytes, bound_to: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, data, bound_to)

    def open(self, blob: bytes, bound_to: bytes) -> bytes:
        return self._aead.decrypt(blob[:NONCE], blob[NONCE:], bound_to)

    def week_tag(self, day: date) -> bytes:
        """The index of the persons whose age band changes in `day`'s ISO week: a week,
        not the day, so the persons sharing a tag are many and their birthdays unknown."""
        year, week, _ = day.isocalendar()
        return _mac(self._week, f"{year}-W{week:02d}".encode())[:TAG_BYTES]

    def commune_tag(self, departement: str, city: str) -> str:
        """A commune as the counts between releases know it: its size band is only known
        once every person is counted, and its name is not kept."""
        return _mac(self._commune, f"{departement}\x1f{city}".encode()).hex()[:24]
