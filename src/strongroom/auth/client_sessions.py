"""The console's server-side sessions in the registry database (SQLAlchemy 2), so every
`strongroom serve` worker honours a session any of them opened and a restart signs nobody
out. The console (`console/sessions.py`) is the embedded authorization server's own public
OAuth client; this is where it keeps what it holds for each signed-in browser.

A row is keyed by the SHA-256 of the cookie's random session ID, never the ID itself: a
copied table names no cookie. What would let a copy act as the user (the access and
refresh tokens, the session's DPoP private key, a sign-in's PKCE verifier and state) is
sealed by the vault as TOTP seeds are (AES-256-GCM under the identity store's KEK, the
row's key hash as associated data): a copied database yields none of it, and a ciphertext
moved to another row does not open.

Refresh tokens rotate and a second redemption revokes the whole family, so two workers
must never redeem one at once: a worker claims the refresh with a conditional UPDATE on the
row's `version` (a lease, `refreshing_until`), which SQLite and PostgreSQL both honour
atomically; the others wait for the version to move and read the new tokens.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from strongroom.auth.store import digest
from strongroom.registry.errors import storage_errors
from strongroom.vault.errors import IntegrityError, VaultError

log = logging.getLogger("strongroom.console")

metadata = sa.MetaData()

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("sid_hash", sa.String(64), primary_key=True),
    sa.Column("principal_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("role", sa.String(64), nullable=False, server_default=""),
    # Vault ciphertext (store "identity", row = sid_hash) of a JSON object: the DPoP private
    # key (PKCS#8 PEM), the access token and the refresh token.
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),  # the access token's
    sa.Column("version", sa.Integer, nullable=False),  # +1 at each refresh
    sa.Column("refreshing_until", sa.Float, nullable=True),  # a worker's refresh lease
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False, index=True),
    sa.Column("absolute_expiry", sa.Float, nullable=False, index=True),
)

# Sign-ins under way: pushed to the authorization server, not yet called back.
console_sign_ins = sa.Table(
    "console_sign_ins",
    metadata,
    sa.Column("pid_hash", sa.String(64), primary_key=True),
    # Vault ciphertext of a JSON object: state, PKCE verifier, DPoP private key.
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("redirect_uri", sa.String(2048), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
)

SEAL_STORE = "identity"
SESSION_FIELD = "console_session"
SIGN_IN_FIELD = "console_sign_in"


class SealingVault(Protocol):
    """The vault's field encryption (`strongroom.vault.Vault`)."""

    def encrypt(self, store: str, row_id: str, field: str, value: str | None) -> bytes | None: ...
    def decrypt(self, store: str, row_id: str, field: str, blob: bytes | None) -> str | None: ...


@dataclass(frozen=True)
class SessionRow:
    """One console session as stored, its sealed values opened."""

    sid_hash: str
    principal_id: str
    role: str
    secrets: dict[str, str | None]
    expires_at: float
    version: int
    refreshing_until: float | None
    created_at: float
    last_seen: float
    absolute_expiry: float


@dataclass(frozen=True)
class Limits:
    idle: float
    absolute: float
    pending: float
    max_sessions: int
    max_pending: int


class ClientSessions:
    def __init__(self, engine: sa.Engine, vault: SealingVault, limits: Limits) -> None:
        self.engine = engine
        self.vault = vault
        self.limits = limits
        with storage_errors():  # first use on a home `strongroom init` has not upgraded yet
            metadata.create_all(engine, checkfirst=True)

    # --- sign-ins under way ----------------------------------------------------------------
    def begin(self, pid: str, secrets: dict[str, str], redirect_uri: str, now: float) -> None:
        key = digest(pid)
        # Anyone who opens the sign-in page starts one: bounded, oldest dropped first.
        self._insert_bounded(
            console_sign_ins.c.created_at,
            self.limits.max_pending,
            now,
            pid_hash=key,
            sealed=self._seal(key, SIGN_IN_FIELD, secrets),
            redirect_uri=redirect_uri,
            created_at=now,
        )

    def take_sign_in(self, pid: str, now: float) -> tuple[dict[str, str], str] | None:
        """The sign-in's sealed values and redirect URI, once: the DELETE that removes it
        decides which of two racing callbacks gets it."""
        key = digest(pid)
        t = console_sign_ins
        with self._begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.pid_hash == key)).mappings().first()
            if row is None:
                return None
            if conn.execute(t.delete().where(t.c.pid_hash == key)).rowcount != 1:
                return None
        if now - float(row["created_at"]) > self.limits.pending:
            return None
        opened = self._open(key, SIGN_IN_FIELD, bytes(row["sealed"]))
        return {k: str(v) for k, v in opened.items()}, str(row["redirect_uri"])

    # --- signed-in sessions ----------------------------------------------------------------
    def open(self, sid: str, secrets: dict[str, str | None], expires_at: float, now: float) -> None:
        key = digest(sid)
        self._insert_bounded(
            console_sessions.c.last_seen,
            self.limits.max_sessions,
            now,
            sid_hash=key,
            sealed=self._seal(key, SESSION_FIELD, secrets),
            expires_at=expires_at,
            version=0,
            created_at=now,
            last_seen=now,
            absolute_expiry=now + self.limits.absolute,
        )

    def identify(self, sid: str, principal_id: str, role: str) -> None:
        t = console_sessions
        with self._begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.sid_hash == digest(sid))
                .values(principal_id=principal_id, role=role)
            )

    def get(self, sid: str, now: float) -> SessionRow | None:
        """The live session, its last view moved to `now`; an idle or too old one is
        deleted and not returned."""
        key = digest(sid)
        t = console_sessions
        with self._begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.sid_hash == key)).mappings().first()
            if row is None:
                return None
            if now - float(row["last_seen"]) > self.limits.idle or now >= float(
                row["absolute_expiry"]
            ):
                conn.execute(t.delete().where(t.c.sid_hash == key))
                return None
            conn.execute(t.update().where(t.c.sid_hash == key).values(last_seen=now))
        return self._opened(row, last_seen=now)

    def read(self, sid: str) -> SessionRow | None:
        """The session as stored now (another worker may have refreshed it)."""
        t = console_sessions
        with self._begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.sid_hash == digest(sid))).mappings().first()
        return None if row is None else self._opened(row)

    def claim_refresh(self, sid: str, version: int, now: float, lease: float) -> bool:
        """Whether this caller may redeem the session's refresh token: true for exactly one
        of the workers that ask at once, until it stores the new tokens or its lease ends
        (a worker that died mid-refresh)."""
        t = console_sessions
        with self._begin() as conn:
            claimed = conn.execute(
                t.update()
                .where(
                    t.c.sid_hash == digest(sid),
                    t.c.version == version,
                    sa.or_(t.c.refreshing_until.is_(None), t.c.refreshing_until < now),
                )
                .values(refreshing_until=now + lease)
            )
        return claimed.rowcount == 1

    def refreshed(
        self, sid: str, version: int, secrets: dict[str, str | None], expires_at: float
    ) -> bool:
        """Store the rotated tokens of the refresh claimed at `version` (false: the session
        ended meanwhile)."""
        key = digest(sid)
        sealed = self._seal(key, SESSION_FIELD, secrets)
        t = console_sessions
        with self._begin() as conn:
            done = conn.execute(
                t.update()
                .where(t.c.sid_hash == key, t.c.version == version)
                .values(
                    sealed=sealed,
                    expires_at=expires_at,
                    version=version + 1,
                    refreshing_until=None,
                )
            )
        return done.rowcount == 1

    def close(self, sid: str) -> bool:
        t = console_sessions
        with self._begin() as conn:
            return conn.execute(t.delete().where(t.c.sid_hash == digest(sid))).rowcount == 1

    # --- internals -------------------------------------------------------------------------
    def _sweep(self, conn: sa.Connection, now: float) -> None:
        s, p = console_sessions, console_sign_ins
        conn.execute(
            s.delete().where(
                sa.or_(s.c.last_seen < now - self.limits.idle, s.c.absolute_expiry <= now)
            )
        )
        conn.execute(p.delete().where(p.c.created_at < now - self.limits.pending))

    def _insert_bounded(
        self, age: sa.Column[float], limit: int, now: float, **values: object
    ) -> None:
        """Insert a row into `age`'s table after the sweep, the oldest rows by `age`
        dropped first so that the table keeps at most `limit` rows."""
        table = age.table
        assert isinstance(table, sa.Table)
        with self._begin() as conn:
            self._sweep(conn, now)
            count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            if count >= limit:
                pk = next(iter(table.primary_key.columns))
                oldest = sa.select(pk).order_by(age).limit(count - limit + 1).scalar_subquery()
                conn.execute(table.delete().where(pk.in_(oldest)))
            conn.execute(table.insert().values(**values))

    def _opened(self, row: sa.RowMapping, *, last_seen: float | None = None) -> SessionRow | None:
        """The row with its sealed values opened; None, and the row deleted, if they do not
        open under this row's key (edited, or copied from another session's row)."""
        try:
            return self._row(row, last_seen=last_seen)
        except IntegrityError:
            log.error("a console session's sealed values do not open: the session is ended")
            self.close_hash(str(row["sid_hash"]))
            return None

    def close_hash(self, sid_hash: str) -> None:
        t = console_sessions
        with self._begin() as conn:
            conn.execute(t.delete().where(t.c.sid_hash == sid_hash))

    def _row(self, row: sa.RowMapping, *, last_seen: float | None = None) -> SessionRow:
        key = str(row["sid_hash"])
        return SessionRow(
            sid_hash=key,
            principal_id=str(row["principal_id"]),
            role=str(row["role"]),
            secrets=self._open(key, SESSION_FIELD, bytes(row["sealed"])),
            expires_at=float(row["expires_at"]),
            version=int(row["version"]),
            refreshing_until=row["refreshing_until"],
            created_at=float(row["created_at"]),
            last_seen=float(row["last_seen"]) if last_seen is None else last_seen,
            absolute_expiry=float(row["absolute_expiry"]),
        )

    def _seal(self, key: str, field: str, values: dict[str, str] | dict[str, str | None]) -> bytes:
        blob = self.vault.encrypt(SEAL_STORE, key, field, json.dumps(values))
        if blob is None:  # the vault maps None to None, and only None
            raise VaultError("the vault sealed nothing")
        return blob

    def _open(self, key: str, field: str, blob: bytes) -> dict[str, str | None]:
        text = self.vault.decrypt(SEAL_STORE, key, field, blob)
        if text is None:
            raise VaultError("the vault opened nothing")
        values = json.loads(text)
        return {str(k): (None if v is None else str(v)) for k, v in values.items()}

    @contextlib.contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        with storage_errors(), self.engine.begin() as conn:
            yield conn
