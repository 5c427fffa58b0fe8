"""Revocations as the resource server checks them on every request: a copy of the revoked
tokens and principals' cut-offs, read again whenever it is older than `max_age` seconds.

Two of the three lookups `SqlSessions.is_revoked` makes for each token (its `jti`, its
principal's cut-off) then cost a set and a dict lookup; the session's own state is still
read on every request. Both tables stay small (a revoked token's row lives until the token
expires, a principal's cut-off is one row), so a reload is two short queries, made by one
thread while the others wait for its result.

The bound: a revocation made through this process's `SqlSessions` (an administrator, the
detectors, RFC 7009) bites on its next request, since `SqlSessions.revocations` counts
them; one made by another worker or node, within `max_age` seconds of its commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from strongroom.auth.sessions import SqlSessions
from strongroom.auth.store import principal_revocations, revoked_tokens

# How stale another worker's revocation may be when this one checks a token.
REVOCATION_BOUND_SECONDS = 1.0

_LIVE_REVOKED = sa.select(revoked_tokens.c.jti).where(
    revoked_tokens.c.expires_at >= sa.bindparam("now")
)
_CUTOFFS = sa.select(principal_revocations.c.principal_id, principal_revocations.c.revoked_before)


class RevocationSnapshot:
    """A `RevocationList` over `SqlSessions`, stale by at most `max_age` seconds for
    revocations made by other processes, and not at all for this one's."""

    def __init__(self, store: SqlSessions, *, max_age: float = REVOCATION_BOUND_SECONDS) -> None:
        self.store = store
        self.max_age = max_age
        self._lock = threading.Lock()
        # (revoked jtis, principal -> cut-off), replaced whole: a reader never sees half
        self._copy: tuple[frozenset[str], dict[str, float]] = (frozenset(), {})
        self._read_at = -float("inf")  # time.monotonic() when the copy was read
        self._seen = -1  # store.revocations when it was read

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        jtis, cutoffs = self._current()
        if str(claims.get("jti")) in jtis:
            return True
        cutoff = cutoffs.get(str(claims.get("sub")))
        if cutoff is not None and float(claims.get("iat", 0)) <= cutoff:
            return True
        sid = claims.get("sid")
        return sid is not None and self.store.session_over(str(sid))

    def _current(self) -> tuple[frozenset[str], dict[str, float]]:
        if self._fresh():
            return self._copy
        with self._lock:
            if not self._fresh():  # another thread may have read it while this one waited
                self._read()
            return self._copy

    def _fresh(self) -> bool:
        return (
            self._seen == self.store.revocations and time.monotonic() - self._read_at < self.max_age
        )

    def _read(self) -> None:
        # Read the counter and the clock first: a revocation committed during the read
        # makes the copy stale at once rather than going unnoticed.
        seen, started = self.store.revocations, time.monotonic()
        with self.store.connect() as conn:
            jtis = frozenset(conn.execute(_LIVE_REVOKED, {"now": self.store.clock.now()}).scalars())
            cutoffs = {str(p): float(t) for p, t in conn.execute(_CUTOFFS)}
        self._copy = (jtis, cutoffs)
        self._seen, self._read_at = seen, started
