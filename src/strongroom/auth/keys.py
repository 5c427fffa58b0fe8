"""Token signing keys: an Ed25519 JWK Set (RFC 7517, RFC 8037) in `keys/token_signing.json`.

The file is a JWKS with two additions that RFC 7517 §4/§5 let a set carry: a top-level
`active` (the kid that signs new tokens) and, per key, `iat` (created) and `exp` (when a
retired key may be dropped). Rotation makes a new key active and keeps the old ones for
verification until every token they signed has expired, so no valid token is orphaned.

The file is created on first use with mode 0600 (O_EXCL, so two workers starting at once
agree on one key), rewritten atomically (temp file + rename) under an advisory lock, and
re-read when its mtime changes, so a rotation by one worker reaches the others.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, OKPKey

from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import Unavailable

FILENAME = "token_signing.json"
# Longest access token lifetime plus leeway: a retired key must outlive its last token.
DEFAULT_RETENTION_SECONDS = 3600 + 120
# RFC 7638 thumbprints are 43 base64url characters; anything else is not one of ours.
KID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def is_plausible_kid(kid: object) -> bool:
    return isinstance(kid, str) and KID_PATTERN.fullmatch(kid) is not None


class SigningKeys:
    """The token signing key set of one Strongroom home."""

    def __init__(
        self,
        keys_dir: Path,
        *,
        clock: Clock = SYSTEM_CLOCK,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self.keys_dir = Path(keys_dir)
        self.path = self.keys_dir / FILENAME
        self.clock = clock
        self.retention_seconds = retention_seconds
        self._lock = threading.Lock()
        self._mtime_ns: tuple[int, int] | None = None
        self._active: OKPKey | None = None
        self._by_kid: dict[str, OKPKey] = {}
        self._public: dict[str, OKPKey] = {}
        self._doc: dict[str, Any] = {}

    # -- reading -----------------------------------------------------------------------

    def active_key(self) -> OKPKey:
        self._refresh()
        if self._active is None:
            raise Unavailable("no active token signing key")
        return self._active

    def verification_key(self, kid: str) -> OKPKey | None:
        """The public key for `kid`, re-reading the file once if the kid is unknown (another
        worker may have rotated)."""
        if not is_plausible_kid(kid):
            return None
        key = self._public.get(kid)
        if key is None:
            self._refresh()
            key = self._public.get(kid)
        return key

    def public_jwks(self) -> dict[str, Any]:
        self._refresh()
        return dict(KeySet(list(self._public.values())).as_dict(private=False))

    def kids(self) -> list[str]:
        self._refresh()
        return list(self._public)

    # -- writing -----------------------------------------------------------------------

    def rotate(self) -> str:
        """Make a fresh key active; the previous ones verify until `retention_seconds`."""
        now = self.clock.now()
        with self._file_lock():
            doc = self._read_doc() if self.path.exists() else {"keys": []}
            for entry in doc["keys"]:
                if entry.get("exp") is None:
                    entry["exp"] = int(now + self.retention_seconds)
            new = _new_entry(now)
            doc["keys"].append(new)
            doc["active"] = new["kid"]
            self._write_doc(doc)
        self._refresh()
        return str(new["kid"])

    def _ensure_file(self) -> None:
        if self.path.exists():
            return
        self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        entry = _new_entry(self.clock.now())
        data = json.dumps({"active": entry["kid"], "keys": [entry]}, indent=2).encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another worker won the race; use its key
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def _refresh(self) -> None:
        # One stat per call is cheap and catches a rotation by another worker.
        self._ensure_file()
        try:
            st = self.path.stat()
            mtime = (st.st_ino, st.st_mtime_ns)
        except OSError as exc:
            raise Unavailable("token signing keys unreadable") from exc
        if mtime == self._mtime_ns and self._active is not None:
            return
        with self._lock:
            doc = self._read_doc()
            now = self.clock.now()
            by_kid: dict[str, OKPKey] = {}
            public: dict[str, OKPKey] = {}
            for entry in doc["keys"]:
                exp = entry.get("exp")
                if exp is not None and exp < now:
                    continue
                jwk = {k: v for k, v in entry.items() if k not in ("iat", "exp")}
                key = OKPKey.import_key(jwk)
                by_kid[entry["kid"]] = key
                public[entry["kid"]] = OKPKey.import_key(key.as_dict(private=False))
            active = by_kid.get(doc.get("active", ""))
            if active is None:
                raise Unavailable("token signing key set has no usable active key")
            self._doc, self._by_kid, self._public, self._active = doc, by_kid, public, active
            self._mtime_ns = mtime

    def _read_doc(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise Unavailable("token signing key set unreadable") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise Unavailable("token signing key set malformed")
        return doc

    def _write_doc(self, doc: dict[str, Any]) -> None:
        now = self.clock.now()
        # Drop keys whose tokens have all expired: nothing left for them to verify.
        doc["keys"] = [e for e in doc["keys"] if e.get("exp") is None or e["exp"] >= now]
        tmp = self.path.with_name(f".{FILENAME}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(json.dumps(doc, indent=2).encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.keys_dir / f".{FILENAME}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _new_entry(now: float) -> dict[str, Any]:
    key = OKPKey.generate_key("Ed25519", parameters={"use": "sig", "alg": "EdDSA"}, auto_kid=True)
    entry: dict[str, Any] = dict(key.as_dict(private=True))
    entry["iat"] = int(now)
    entry["exp"] = None
    return entry


def ensure_signing_keys(keys_dir: Path, *, clock: Clock = SYSTEM_CLOCK) -> SigningKeys:
    """Create the signing key set if missing (idempotent) and return it."""
    keys = SigningKeys(keys_dir, clock=clock)
    keys.active_key()
    return keys
