"""The console's server-side sessions: the browser holds a random cookie, the server the
OAuth tokens and the DPoP key they are bound to.

Why a DPoP key per session, not a confidential client: the embedded authorization server
binds every token of every grant to a DPoP key (docs/oauth.md, FAPI 2.0 baseline), and a
confidential client would still need one. Its `console` client is registered public (PAR +
PKCE S256), so the console server is that public client: each signed-in browser gets its
own P-256 key, generated here and never sent anywhere, to which the authorization code
(PAR `dpop_jkt`), the access token and the refresh token are bound. A stolen cookie works
only through this server (which checks the CSRF token and the idle timeout); a token copied
out of this process's memory is useless without its session's key.

Sessions live in this process's memory: one `strongroom serve` worker. They end with the
process, after `IDLE_SECONDS` without a page, or when the authorization server's session
ends (idle 15 min, 8 h, logout, revocation), whichever comes first.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from strongroom.auth.rfc9449_dpop import access_token_hash
from strongroom.clock import Clock

IDLE_SECONDS = 15 * 60
PENDING_SECONDS = 10 * 60
MAX_SESSIONS = 10_000
# Sign-ins under way are started by anyone who opens the sign-in page: bounded, oldest
# dropped first, so a flood of them costs memory it cannot grow.
MAX_PENDING = 10_000


class ProofKey:
    """One session's DPoP key (EC P-256): RFC 9449 proofs for the token endpoint and for
    each page's call through the resource server."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.key = ECKey.generate_key("P-256")
        self.jkt = self.key.thumbprint()

    def proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        claims: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(self.clock.now()),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        return jwt.encode(header, claims, self.key, algorithms=["ES256"])


@dataclass
class Pending:
    """A sign-in under way: the PKCE verifier and state of one pushed request."""

    state: str
    verifier: str
    redirect_uri: str
    key: ProofKey
    created_at: float


@dataclass
class Session:
    id: str
    csrf: str
    key: ProofKey
    access_token: str
    refresh_token: str | None
    expires_at: float
    last_seen: float
    principal: str = ""
    role: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


class SessionStore:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()

    # --- sign-in under way -------------------------------------------------------------
    def begin(self, redirect_uri: str) -> tuple[str, Pending]:
        now = self.clock.now()
        pending = Pending(
            state=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri,
            key=ProofKey(self.clock),
            created_at=now,
        )
        pid = secrets.token_urlsafe(32)
        with self._lock:
            self._prune(now)
            while len(self._pending) >= MAX_PENDING:
                del self._pending[next(iter(self._pending))]  # the oldest (insertion order)
            self._pending[pid] = pending
        return pid, pending

    def take_pending(self, pid: str | None) -> Pending | None:
        """The sign-in named by the browser's cookie, once (a callback replayed finds none)."""
        if not pid:
            return None
        with self._lock:
            pending = self._pending.pop(pid, None)
        if pending is None or self.clock.now() - pending.created_at > PENDING_SECONDS:
            return None
        return pending

    # --- signed-in sessions --------------------------------------------------------------
    def open(self, key: ProofKey, tokens: dict[str, Any]) -> Session:
        now = self.clock.now()
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            key=key,
            access_token=str(tokens["access_token"]),
            refresh_token=tokens.get("refresh_token"),
            expires_at=now + float(tokens.get("expires_in", 0)),
            last_seen=now,
        )
        with self._lock:
            self._prune(now)
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = self.clock.now()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.last_seen > IDLE_SECONDS:
                del self._sessions[sid]
                return None
            session.last_seen = now
            return session

    def close(self, sid: str | None) -> Session | None:
        with self._lock:
            return self._sessions.pop(sid, None) if sid else None

    def _prune(self, now: float) -> None:
        for pid in [k for k, p in self._pending.items() if now - p.created_at > PENDING_SECONDS]:
            del self._pending[pid]
        for sid in [k for k, s in self._sessions.items() if now - s.last_seen > IDLE_SECONDS]:
            del self._sessions[sid]
