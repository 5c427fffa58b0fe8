"""Credentials: argon2id passwords (argon2-cffi, RFC 9106) and TOTP second factors (pyotp,
RFC 6238), each TOTP time step accepted at most once per account, seeds sealed by the vault,
failed tries counted per account (`auth/attempts.py`).

`authenticate` refuses every way alike (`LoginFailed`; its `reason` is for the journal
only): the login page tells neither which usernames exist nor whether a password was right
before its code is. Every try costs exactly one argon2 verification, whatever it ends in,
so the time taken does not tell either.

TOTP seeds must be read back to check a code, so they cannot be hashed: they are sealed
like PII (AES-256-GCM under the vault's identity KEK) with the principal's ID as associated
data, so a copied database yields none of them and a seed moved to another account's row
does not open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from strongroom.auth.acr import ACR_MFA, ACR_PASSWORD, ACR_PHR, AMR_PASSWORD, AMR_TOTP
from strongroom.auth.attempts import AttemptRules
from strongroom.auth.store import credentials
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import BadRequest, Conflict
from strongroom.vault.errors import VaultError

TOTP_ISSUER = "Strongroom"
SEED_STORE = "identity"
SECRET_FIELD = "totp_secret"  # noqa: S105 - a field name
PENDING_FIELD = "totp_pending"
__all__ = ["ACR_MFA", "ACR_PASSWORD", "ACR_PHR", "Credentials", "LoginFailed", "LoginResult"]


class SeedVault(Protocol):
    """The vault's field encryption (`strongroom.vault.Vault`)."""

    def encrypt(self, store: str, row_id: str, field: str, value: str | None) -> bytes | None: ...
    def decrypt(self, store: str, row_id: str, field: str, blob: bytes | None) -> str | None: ...


class LoginFailed(Exception):  # noqa: N818 - a refusal, not a programming error
    """A refused sign-in. The caller answers every one alike; `reason` (wrong_password,
    wrong_code, replayed_code, missing_code, locked, throttled, unknown_user, ...) goes to
    the journal. `locked` says this failure locked the account."""

    def __init__(
        self,
        reason: str,
        principal_id: str | None = None,
        *,
        failures: int = 0,
        locked: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.principal_id = principal_id
        self.failures = failures
        self.locked = locked


class _Refused(Exception):  # noqa: N818
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LoginResult:
    principal_id: str
    acr: str
    auth_time: float
    amr: tuple[str, ...] = ()


class Credentials:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        vault: SeedVault,
        clock: Clock = SYSTEM_CLOCK,
        hasher: PasswordHasher | None = None,
        rules: AttemptRules | None = None,
    ) -> None:
        self.engine = engine
        self.vault = vault
        self.clock = clock
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 parameters
        self.rules = rules or AttemptRules()
        self._dummy_hash = self.hasher.hash("strongroom-timing-equalizer")

    # --- enrollment (the local operator) -------------------------------------------------
    def set_password(self, principal_id: str, username: str, password: str) -> None:
        if len(password) < 12:
            raise BadRequest("a password has at least 12 characters")
        hashed = self.hasher.hash(password)
        with self.engine.begin() as conn:
            updated = conn.execute(
                credentials.update()
                .where(credentials.c.principal_id == principal_id)
                .values(username=username, password_hash=hashed, failed_logins=0)
            )
            if updated.rowcount == 0:
                conn.execute(
                    credentials.insert().values(
                        principal_id=principal_id,
                        username=username,
                        password_hash=hashed,
                        failed_logins=0,
                    )
                )

    def begin_totp_enrollment(self, principal_id: str) -> str:
        """A new pending TOTP seed; returns the otpauth:// URI for the authenticator app."""
        secret = pyotp.random_base32()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(credentials.c.username).where(credentials.c.principal_id == principal_id)
            ).first()
            if row is None:
                raise BadRequest("set a password before enrolling a second factor")
            conn.execute(
                credentials.update()
                .where(credentials.c.principal_id == principal_id)
                .values(
                    totp_pending_ct=self._seal(principal_id, PENDING_FIELD, secret),
                    totp_pending=None,
                )
            )
        return pyotp.TOTP(secret).provisioning_uri(name=row[0], issuer_name=TOTP_ISSUER)

    def confirm_totp_enrollment(self, principal_id: str, code: str) -> None:
        with self.engine.begin() as conn:
            row = self._row(conn, credentials.c.principal_id == principal_id)
            if row is None or row["totp_pending_ct"] is None:
                raise Conflict("no TOTP enrollment in progress")
            pending = self._open(principal_id, PENDING_FIELD, row["totp_pending_ct"])
            step, _ = self._match(pending, code, None)
            if step is None:
                raise BadRequest("the code does not match the new authenticator")
            conn.execute(
                credentials.update()
                .where(credentials.c.principal_id == principal_id)
                .values(
                    totp_secret_ct=self._seal(principal_id, SECRET_FIELD, pending),
                    totp_pending_ct=None,
                    totp_secret=None,
                    totp_pending=None,
                    totp_last_step=step,
                )
            )

    def is_enrolled(self, principal_id: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(credentials.c.totp_secret_ct).where(
                        credentials.c.principal_id == principal_id
                    )
                ).scalar()
                is not None
            )

    def is_locked(self, principal_id: str) -> bool:
        """Whether an administrator must lift a lock first; a lock stops every way of
        signing in to the account, passkeys included."""
        with self.engine.connect() as conn:
            locked = conn.execute(
                sa.select(credentials.c.locked_at).where(credentials.c.principal_id == principal_id)
            ).scalar()
        return locked is not None

    def username_of(self, principal_id: str) -> str:
        with self.engine.connect() as conn:
            name = conn.execute(
                sa.select(credentials.c.username).where(credentials.c.principal_id == principal_id)
            ).scalar()
        return str(name) if name else principal_id

    def unlock(self, principal_id: str) -> bool:
        """Lift a lock and forget the failures; False when the principal has no
        credentials."""
        with self.engine.begin() as conn:
            done = conn.execute(
                credentials.update()
                .where(credentials.c.principal_id == principal_id)
                .values(failed_logins=0, next_attempt_at=None, locked_at=None)
            )
        return done.rowcount == 1

    def seal_plaintext_seeds(self) -> int:
        """Seal the seeds an earlier version left in plaintext columns and empty those;
        returns how many accounts changed. Run at every start: after the first, a
        query that finds nothing."""
        plain = (credentials.c.totp_secret.is_not(None)) | (credentials.c.totp_pending.is_not(None))
        with self.engine.connect() as conn:
            rows = [
                dict(r)
                for r in conn.execute(
                    sa.select(
                        credentials.c.principal_id,
                        credentials.c.totp_secret,
                        credentials.c.totp_pending,
                    ).where(plain)
                ).mappings()
            ]
        sealed = 0
        for row in rows:
            pid = row["principal_id"]
            values: dict[str, Any] = {"totp_secret": None, "totp_pending": None}
            # A plaintext seed can only have been written after any sealed one (an older
            # worker during an upgrade), so it wins.
            if row["totp_secret"]:
                values["totp_secret_ct"] = self._seal(pid, SECRET_FIELD, row["totp_secret"])
            if row["totp_pending"]:
                values["totp_pending_ct"] = self._seal(pid, PENDING_FIELD, row["totp_pending"])
            with self.engine.begin() as conn:
                done = conn.execute(
                    credentials.update()
                    .where(
                        credentials.c.principal_id == pid,
                        # Another worker starting at the same time may have sealed it.
                        credentials.c.totp_secret.is_not_distinct_from(row["totp_secret"]),
                        credentials.c.totp_pending.is_not_distinct_from(row["totp_pending"]),
                    )
                    .values(**values)
                )
            sealed += done.rowcount
        return sealed

    # --- signing in ----------------------------------------------------------------------
    def authenticate(
        self,
        username: str,
        password: str,
        otp: str | None,
        *,
        mfa_required: Callable[[str], bool],
    ) -> LoginResult:
        """The principal, if the password and (when enrolled) the code are right and the
        account may try now; `LoginFailed` otherwise. `mfa_required(principal_id)` says
        whether an account without a second factor is refused."""
        now = self.clock.now()
        with self.engine.connect() as conn:
            row = self._row(conn, credentials.c.username == username)
        if row is None:
            self._verify(self._dummy_hash, password)
            raise LoginFailed("unknown_user")
        pid = str(row["principal_id"])
        if row["locked_at"] is not None:
            self._verify(row["password_hash"], password)
            raise LoginFailed("locked", pid)
        seen = int(row["failed_logins"] or 0)
        wait_until = row["next_attempt_at"]
        if (wait_until is not None and now < wait_until) or not self._claim(pid, seen, now):
            # Too early, or another try of this account is being read right now: this
            # one is not read at all, so parallel guesses gain nothing either.
            self._verify(row["password_hash"], password)
            raise LoginFailed("throttled", pid)
        # Claimed: the try already counts as a failure, and is forgiven only on success.
        failures = seen + 1
        locked = failures >= self.rules.lock_after
        try:
            step = self._check(row, password, otp, mfa_required)
            self._succeed(pid, step)
        except _Refused as refused:
            raise LoginFailed(refused.reason, pid, failures=failures, locked=locked) from None
        if step is None:
            return LoginResult(pid, ACR_PASSWORD, now, tuple(AMR_PASSWORD))
        return LoginResult(pid, ACR_MFA, now, tuple(AMR_TOTP))

    def _claim(self, principal_id: str, seen: int, now: float) -> bool:
        failures = seen + 1
        with self.engine.begin() as conn:
            done = conn.execute(
                credentials.update()
                .where(
                    credentials.c.principal_id == principal_id,
                    credentials.c.failed_logins == seen,
                    credentials.c.locked_at.is_(None),
                )
                .values(
                    failed_logins=failures,
                    next_attempt_at=now + self.rules.delay_after(failures),
                    locked_at=now if failures >= self.rules.lock_after else None,
                )
            )
        return done.rowcount == 1

    def _check(
        self,
        row: sa.RowMapping,
        password: str,
        otp: str | None,
        mfa_required: Callable[[str], bool],
    ) -> int | None:
        """The TOTP step the try used (None: a password-only account), or `_Refused`."""
        if not self._verify(row["password_hash"], password):
            raise _Refused("wrong_password")
        pid = str(row["principal_id"])
        sealed = row["totp_secret_ct"]
        if sealed is None:
            if mfa_required(pid):
                raise _Refused("second_factor_not_enrolled")
            return None
        if not otp:
            raise _Refused("missing_code")
        try:
            secret = self._open(pid, SECRET_FIELD, sealed)
        except VaultError:
            raise _Refused("second_factor_unreadable") from None
        step, replayed = self._match(secret, otp, row["totp_last_step"])
        if step is None:
            raise _Refused("replayed_code" if replayed else "wrong_code")
        return step

    def _succeed(self, principal_id: str, step: int | None) -> None:
        values: dict[str, Any] = {"failed_logins": 0, "next_attempt_at": None, "locked_at": None}
        where = [credentials.c.principal_id == principal_id]
        if step is not None:
            values["totp_last_step"] = step
            # Two tries with one code at once: only the first moves the step on.
            where.append(
                credentials.c.totp_last_step.is_(None) | (credentials.c.totp_last_step < step)
            )
        with self.engine.begin() as conn:
            done = conn.execute(credentials.update().where(*where).values(**values))
        if done.rowcount != 1:
            raise _Refused("replayed_code")

    # --- internals -----------------------------------------------------------------------
    @staticmethod
    def _row(conn: sa.Connection, where: sa.ColumnElement[bool]) -> sa.RowMapping | None:
        return conn.execute(sa.select(credentials).where(where)).mappings().first()

    def _seal(self, principal_id: str, field: str, seed: str) -> bytes:
        blob = self.vault.encrypt(SEED_STORE, principal_id, field, seed)
        if blob is None:  # the vault maps None to None, and only None
            raise VaultError("the vault sealed no seed")
        return blob

    def _open(self, principal_id: str, field: str, blob: bytes) -> str:
        seed = self.vault.decrypt(SEED_STORE, principal_id, field, bytes(blob))
        if seed is None:
            raise VaultError("the vault opened no seed")
        return seed

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def _match(self, secret: str, code: str, last_step: int | None) -> tuple[int | None, bool]:
        """(the time step the code belongs to, ±1 step of drift, if newer than the last
        one used; whether it matched a step already used)."""
        totp = pyotp.TOTP(secret)
        now = self.clock.now()
        code = (code or "").strip()
        for drift in (0, -1, 1):
            when = now + drift * totp.interval
            if totp.verify(code, for_time=when, valid_window=0):
                step = int(when // totp.interval)
                if last_step is not None and step <= last_step:
                    return None, True
                return step, False
        return None, False
