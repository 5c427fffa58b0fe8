"""Credentials: argon2id passwords (argon2-cffi, RFC 9106) and TOTP second factors (pyotp,
RFC 6238), with each TOTP time step accepted at most once per account.

`authenticate` answers one way for an unknown user, a wrong password and a wrong code
(`LoginFailed`), so the login page does not tell which usernames exist; an unknown user
still costs one argon2 verification.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from strongroom.auth.store import credentials
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import BadRequest, Conflict

ACR_PASSWORD = "urn:strongroom:acr:pwd"  # noqa: S105 - an acr name
ACR_MFA = "urn:strongroom:acr:mfa"
TOTP_ISSUER = "Strongroom"


class LoginFailed(Exception):  # noqa: N818 - a refusal, not a programming error
    """Wrong username, password or code: deliberately one case."""


class SecondFactorRequired(Exception):  # noqa: N818
    """The password was right; a TOTP code is needed (or enrollment, when `enrolled` is
    False)."""

    def __init__(self, enrolled: bool) -> None:
        super().__init__("second factor required")
        self.enrolled = enrolled


@dataclass(frozen=True)
class LoginResult:
    principal_id: str
    acr: str
    auth_time: float


class Credentials:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock = SYSTEM_CLOCK,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 parameters
        self._dummy_hash = self.hasher.hash("strongroom-timing-equalizer")

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
                .values(totp_pending=secret)
            )
        return pyotp.TOTP(secret).provisioning_uri(name=row[0], issuer_name=TOTP_ISSUER)

    def confirm_totp_enrollment(self, principal_id: str, code: str) -> None:
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    sa.select(credentials).where(credentials.c.principal_id == principal_id)
                )
                .mappings()
                .first()
            )
            if row is None or not row["totp_pending"]:
                raise Conflict("no TOTP enrollment in progress")
            step = self._valid_step(row["totp_pending"], code, None)
            if step is None:
                raise BadRequest("the code does not match the new authenticator")
            conn.execute(
                credentials.update()
                .where(credentials.c.principal_id == principal_id)
                .values(totp_secret=row["totp_pending"], totp_pending=None, totp_last_step=step)
            )

    def is_enrolled(self, principal_id: str) -> bool:
        with self.engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.select(credentials.c.totp_secret).where(
                        credentials.c.principal_id == principal_id
                    )
                ).scalar()
            )

    def authenticate(
        self, username: str, password: str, otp: str | None, *, mfa_required: bool
    ) -> LoginResult:
        with self.engine.begin() as conn:
            row = (
                conn.execute(sa.select(credentials).where(credentials.c.username == username))
                .mappings()
                .first()
            )
            if row is None:
                self._verify(self._dummy_hash, password)
                raise LoginFailed()
            if not self._verify(row["password_hash"], password):
                conn.execute(
                    credentials.update()
                    .where(credentials.c.principal_id == row["principal_id"])
                    .values(failed_logins=credentials.c.failed_logins + 1)
                )
                raise LoginFailed()
            now = self.clock.now()
            secret = row["totp_secret"]
            if secret is None:
                if mfa_required:
                    raise SecondFactorRequired(enrolled=False)
                return LoginResult(row["principal_id"], ACR_PASSWORD, now)
            if not otp:
                raise SecondFactorRequired(enrolled=True)
            step = self._valid_step(secret, otp, row["totp_last_step"])
            if step is None:
                raise LoginFailed()
            conn.execute(
                credentials.update()
                .where(credentials.c.principal_id == row["principal_id"])
                .values(totp_last_step=step, failed_logins=0)
            )
            return LoginResult(row["principal_id"], ACR_MFA, now)

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def _valid_step(self, secret: str, code: str, last_step: int | None) -> int | None:
        """The time step the code belongs to (±1 step of drift), if newer than the last."""
        totp = pyotp.TOTP(secret)
        now = self.clock.now()
        code = (code or "").strip()
        for drift in (0, -1, 1):
            when = now + drift * totp.interval
            if totp.verify(code, for_time=when, valid_window=0):
                step = int(when // totp.interval)
                if last_step is not None and step <= last_step:
                    return None  # replayed code
                return step
        return None
