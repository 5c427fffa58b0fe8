"""Sessions and revocation in the database, so they bite on the next request of any worker.

A session has an idle timeout (default 15 min, measured from its last request) and an
absolute lifetime (default 8 h from login). Logout ends the session; `revoke_principal`
ends every session of a principal, revokes its refresh tokens, and stamps a cut-off so every
access token it holds issued up to now is refused (RFC 7009 §2 lets the server revoke
related tokens). `SqlSessions` is both the resource server's `RevocationList` and its
`SessionActivity`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from strongroom.auth.store import principal_revocations, refresh_tokens, revoked_tokens, sessions
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import Unavailable

IDLE_TIMEOUT_SECONDS = 15 * 60
ABSOLUTE_LIFETIME_SECONDS = 8 * 3600
# Writing last_seen on every request would make each read a write; a few seconds of slack
# on a 15-minute idle timeout is harmless.
TOUCH_GRANULARITY_SECONDS = 5

# Every request's revocation checks, built once (building a statement costs more than
# running it).
_REVOKED_JTI = sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == sa.bindparam("jti"))
_REVOKED_BEFORE = sa.select(principal_revocations.c.revoked_before).where(
    principal_revocations.c.principal_id == sa.bindparam("principal")
)
_SESSION_ENDED = sa.select(sessions.c.ended_at).where(sessions.c.session_id == sa.bindparam("sid"))


def _session_over(conn: sa.Connection, session_id: str) -> bool:
    ended = conn.execute(_SESSION_ENDED, {"sid": session_id}).first()
    return ended is None or ended[0] is not None


USER_AGENT_CHARS = 256


@dataclass(frozen=True)
class SessionOrigin:
    session_id: str
    ip_prefix: str | None
    user_agent: str | None
    alive: bool


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    principal_id: str
    client_id: str
    acr: str | None
    auth_time: float | None


class SqlSessions:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock = SYSTEM_CLOCK,
        idle_timeout: int = IDLE_TIMEOUT_SECONDS,
        absolute_lifetime: int = ABSOLUTE_LIFETIME_SECONDS,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.absolute_lifetime = absolute_lifetime
        # Revocations of tokens and principals made here, counted once committed: a
        # `RevocationSnapshot` of this process reads its copy again when this moves.
        self.revocations = 0

    def create(
        self,
        *,
        principal_id: str,
        client_id: str,
        acr: str | None,
        auth_time: float | None,
        ip_prefix: str | None = None,
        user_agent: str | None = None,
    ) -> str:
        sid = secrets.token_urlsafe(24)
        now = self.clock.now()
        with self._begin() as conn:
            conn.execute(
                sessions.insert().values(
                    session_id=sid,
                    principal_id=principal_id,
                    client_id=client_id,
                    created_at=now,
                    last_seen=now,
                    absolute_expiry=now + self.absolute_lifetime,
                    acr=acr,
                    auth_time=auth_time,
                    ip_prefix=ip_prefix,
                    user_agent=user_agent[:USER_AGENT_CHARS] if user_agent else None,
                )
            )
        return sid

    def of_principal(self, principal_id: str) -> list[dict[str, Any]]:
        """A principal's live sessions, most recently used first: where each signed in
        from, with which client and level, since when."""
        return self._live(sessions.c.principal_id == principal_id)

    def networks(self, principal_id: str, since: float) -> list[SessionOrigin]:
        """Where this principal's sessions since `since` signed in from, and whether each
        is still alive."""
        now = self.clock.now()
        query = sa.select(sessions).where(
            sessions.c.principal_id == principal_id, sessions.c.created_at >= since
        )
        with self.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            SessionOrigin(r["session_id"], r["ip_prefix"], r["user_agent"], self._alive(r, now))
            for r in rows
        ]

    def active(self, session_id: str, now: float | None = None) -> SessionInfo | None:
        """The session if it is neither ended, idle-expired nor past its absolute lifetime."""
        now = self.clock.now() if now is None else now
        with self.connect() as conn:
            row = (
                conn.execute(sa.select(sessions).where(sessions.c.session_id == session_id))
                .mappings()
                .first()
            )
        if not self._alive(row, now):
            return None
        return SessionInfo(
            row["session_id"], row["principal_id"], row["client_id"], row["acr"], row["auth_time"]
        )

    def touch(self, session_id: str, now: float) -> bool:
        with self._begin() as conn:
            row = (
                conn.execute(sa.select(sessions).where(sessions.c.session_id == session_id))
                .mappings()
                .first()
            )
            if not self._alive(row, now):
                if row is not None and row["ended_at"] is None:
                    conn.execute(
                        sessions.update()
                        .where(sessions.c.session_id == session_id)
                        .values(ended_at=now, end_reason="timeout")
                    )
                return False
            if now - row["last_seen"] >= TOUCH_GRANULARITY_SECONDS:
                conn.execute(
                    sessions.update()
                    .where(sessions.c.session_id == session_id)
                    .values(last_seen=now)
                )
        return True

    def open_sessions(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The sessions still alive (not ended, not idle, within their lifetime), most
        recently used first: who is signed in, with which client, since when."""
        return self._live(sa.true(), limit)

    def _live(self, where: Any, limit: int | None = None) -> list[dict[str, Any]]:
        now = self.clock.now()
        query = (
            sa.select(sessions)
            .where(
                where,
                sessions.c.ended_at.is_(None),
                sessions.c.absolute_expiry > now,
                sessions.c.last_seen >= now - self.idle_timeout,
            )
            .order_by(sessions.c.last_seen.desc())
            .limit(limit)
        )
        with self.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {
                "session": r["session_id"],
                "principal": r["principal_id"],
                "client": r["client_id"],
                "acr": r["acr"],
                "created_at": r["created_at"],
                "last_seen": r["last_seen"],
                "ip_prefix": r["ip_prefix"],
                "user_agent": r["user_agent"],
            }
            for r in rows
        ]

    def end(self, session_id: str, reason: str = "logout") -> None:
        now = self.clock.now()
        with self._begin() as conn:
            conn.execute(
                sessions.update()
                .where(sessions.c.session_id == session_id, sessions.c.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
            )
            conn.execute(
                refresh_tokens.update()
                .where(
                    refresh_tokens.c.session_id == session_id, refresh_tokens.c.revoked_at.is_(None)
                )
                .values(revoked_at=now)
            )

    def revoke_token(self, jti: str, expires_at: float) -> None:
        with self._begin() as conn:
            exists = conn.execute(
                sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
            ).first()
            if exists is None:
                conn.execute(revoked_tokens.insert().values(jti=jti, expires_at=expires_at))
        self.revocations += 1

    def revoke_principal(self, principal_id: str) -> None:
        now = self.clock.now()
        with self._begin() as conn:
            updated = conn.execute(
                principal_revocations.update()
                .where(principal_revocations.c.principal_id == principal_id)
                .values(revoked_before=now)
            )
            if updated.rowcount == 0:
                conn.execute(
                    principal_revocations.insert().values(
                        principal_id=principal_id, revoked_before=now
                    )
                )
            conn.execute(
                sessions.update()
                .where(sessions.c.principal_id == principal_id, sessions.c.ended_at.is_(None))
                .values(ended_at=now, end_reason="principal_revoked")
            )
            conn.execute(
                refresh_tokens.update()
                .where(
                    refresh_tokens.c.principal_id == principal_id,
                    refresh_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        self.revocations += 1

    def principal_cutoff(self, principal_id: str) -> float | None:
        with self.connect() as conn:
            cutoff = conn.execute(
                sa.select(principal_revocations.c.revoked_before).where(
                    principal_revocations.c.principal_id == principal_id
                )
            ).scalar()
        return None if cutoff is None else float(cutoff)

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        with self.connect() as conn:
            if conn.execute(_REVOKED_JTI, {"jti": str(claims.get("jti"))}).first() is not None:
                return True
            cutoff = conn.execute(_REVOKED_BEFORE, {"principal": str(claims.get("sub"))}).scalar()
            if cutoff is not None and float(claims.get("iat", 0)) <= cutoff:
                return True
            sid = claims.get("sid")
            return sid is not None and _session_over(conn, str(sid))

    def session_over(self, session_id: str) -> bool:
        """Whether the session has ended, or never was."""
        with self.connect() as conn:
            return _session_over(conn, session_id)

    def purge_expired(self) -> int:
        now = self.clock.now()
        with self._begin() as conn:
            n = conn.execute(revoked_tokens.delete().where(revoked_tokens.c.expires_at < now))
            return int(n.rowcount or 0)

    def _alive(self, row: Mapping[str, Any] | None, now: float) -> bool:
        return (
            row is not None
            and row["ended_at"] is None
            and now < row["absolute_expiry"]
            and now - row["last_seen"] <= self.idle_timeout
        )

    def _begin(self) -> Any:
        try:
            return self.engine.begin()
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("session store unavailable") from exc

    def connect(self) -> Any:
        try:
            return self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("session store unavailable") from exc
