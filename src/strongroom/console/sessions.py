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

Sessions are kept in the registry database (`auth/client_sessions.py`: keyed by a hash of
the cookie, tokens and key sealed by the vault), so any `strongroom serve` worker serves
any of them and a restart signs nobody out. They end after `IDLE_SECONDS` without a page,
`ABSOLUTE_SECONDS` after sign-in, at sign-out, or when the authorization server's session
ends (idle 15 min, 8 h, logout, revocation), whichever comes first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import ECKey

from strongroom.auth.client_sessions import ClientSessions, Limits, SealingVault, SessionRow
from strongroom.auth.rfc9449_dpop import access_token_hash
from strongroom.auth.sessions import ABSOLUTE_LIFETIME_SECONDS
from strongroom.clock import Clock

IDLE_SECONDS = 15 * 60
# No longer than the authorization server's own session, which ends the tokens anyway.
ABSOLUTE_SECONDS = ABSOLUTE_LIFETIME_SECONDS
PENDING_SECONDS = 10 * 60
MAX_SESSIONS = 10_000
# Sign-ins under way are started by anyone who opens the sign-in page: bounded, oldest
# dropped first, so a flood of them costs rows it cannot grow.
MAX_PENDING = 10_000
# How long a worker may take to redeem a session's refresh token before another may try.
REFRESH_LEASE_SECONDS = 30.0


class ProofKey:
    """One session's DPoP key (EC P-256): RFC 9449 proofs for the token endpoint and for
    each page's call through the resource server."""

    def __init__(self, clock: Clock, pem: str | None = None) -> None:
        self.clock = clock
        self.key = ECKey.import_key(pem) if pem else ECKey.generate_key("P-256")
        self.jkt = self.key.thumbprint()

    def pem(self) -> str:
        """The private key (PKCS#8), for the vault to seal: never stored in clear."""
        return self.key.as_pem(private=True).decode("ascii")

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


@dataclass
class Session:
    """One signed-in browser, as this request sees it. `id` is the cookie's value; the
    database knows only its hash."""

    id: str
    key: ProofKey
    access_token: str
    refresh_token: str | None
    expires_at: float
    last_seen: float
    version: int = 0
    principal: str = ""
    role: str = ""

    @property
    def csrf(self) -> str:
        """The forms' CSRF token, derived from the session's ID (an HMAC keyed by it), so
        no worker needs to store it and no page or table gives the cookie away."""
        mac = hmac.new(self.id.encode("ascii"), b"strongroom console csrf", hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


class SessionStore:
    """The console's sessions and sign-ins under way, shared by every worker through the
    registry database (`auth/client_sessions.py`)."""

    def __init__(self, engine: sa.Engine, vault: SealingVault, clock: Clock) -> None:
        self.clock = clock
        self.rows = ClientSessions(
            engine,
            vault,
            Limits(
                idle=IDLE_SECONDS,
                absolute=ABSOLUTE_SECONDS,
                pending=PENDING_SECONDS,
                max_sessions=MAX_SESSIONS,
                max_pending=MAX_PENDING,
            ),
        )

    # --- sign-in under way -------------------------------------------------------------
    def begin(self, redirect_uri: str) -> tuple[str, Pending]:
        pending = Pending(
            state=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri,
            key=ProofKey(self.clock),
        )
        pid = secrets.token_urlsafe(32)
        sealed = {"state": pending.state, "verifier": pending.verifier, "key": pending.key.pem()}
        self.rows.begin(pid, sealed, redirect_uri, self.clock.now())
        return pid, pending

    def take_pending(self, pid: str | None) -> Pending | None:
        """The sign-in named by the browser's cookie, once (a callback replayed finds none)."""
        if not pid:
            return None
        found = self.rows.take_sign_in(pid, self.clock.now())
        if found is None:
            return None
        values, redirect_uri = found
        return Pending(
            state=values["state"],
            verifier=values["verifier"],
            redirect_uri=redirect_uri,
            key=ProofKey(self.clock, values["key"]),
        )

    # --- signed-in sessions --------------------------------------------------------------
    def open(self, key: ProofKey, tokens: dict[str, Any]) -> Session:
        now = self.clock.now()
        session = Session(
            id=secrets.token_urlsafe(32),
            key=key,
            access_token=str(tokens["access_token"]),
            refresh_token=tokens.get("refresh_token"),
            expires_at=now + float(tokens.get("expires_in", 0)),
            last_seen=now,
        )
        self.rows.open(session.id, _sealed(session), session.expires_at, now)
        return session

    def identify(self, session: Session, principal: str, role: str) -> None:
        session.principal, session.role = principal, role
        self.rows.identify(session.id, principal, role)

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        row = self.rows.get(sid, self.clock.now())
        if row is None:
            return None
        key = row.secrets["key"]
        access = row.secrets["access_token"]
        if not key or not access:
            return None
        session = Session(
            id=sid,
            key=ProofKey(self.clock, key),
            access_token=access,
            refresh_token=None,
            expires_at=0.0,
            last_seen=row.last_seen,
        )
        _update(session, row)
        return session

    def reload(self, session: Session) -> bool:
        """Read the session again (another worker may have refreshed it); false: it ended."""
        row = self.rows.read(session.id)
        if row is None:
            return False
        _update(session, row)
        return True

    def claim_refresh(self, session: Session) -> bool:
        return self.rows.claim_refresh(
            session.id, session.version, self.clock.now(), REFRESH_LEASE_SECONDS
        )

    def refreshed(self, session: Session, tokens: dict[str, Any]) -> bool:
        """Keep the rotated tokens of the refresh this request claimed (false: the session
        was ended meanwhile)."""
        session.access_token = str(tokens["access_token"])
        session.refresh_token = tokens.get("refresh_token") or session.refresh_token
        session.expires_at = self.clock.now() + float(tokens.get("expires_in", 0))
        stored = self.rows.refreshed(
            session.id, session.version, _sealed(session), session.expires_at
        )
        session.version += 1
        return stored

    def close(self, sid: str | None) -> None:
        if sid:
            self.rows.close(sid)


def _sealed(session: Session) -> dict[str, str | None]:
    return {
        "key": session.key.pem(),
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
    }


def _update(session: Session, row: SessionRow) -> None:
    session.access_token = row.secrets["access_token"] or session.access_token
    session.refresh_token = row.secrets["refresh_token"]
    session.expires_at = row.expires_at
    session.version = row.version
    session.principal, session.role = row.principal_id, row.role
