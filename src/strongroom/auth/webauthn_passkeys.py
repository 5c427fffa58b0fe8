"""Passkeys (WebAuthn Level 2, via py_webauthn): registration and sign-in ceremonies, and
the credentials each principal holds.

Every challenge is random, stored as a digest, bound to what it was issued for (the
principal registering, or the pushed authorization request being signed in) and deleted by
the first answer that names it, before the answer is checked: a replayed or stolen answer
finds no challenge. The relying party ID and origin come from the server's public URL, so
an assertion made for a look-alike site does not verify here (that is what makes a passkey
phishing-resistant, and why it earns `acr` phr).

Attestation: "none" is asked for and accepted, as for a consumer passkey; which make of
authenticator a professional uses is not checked (the AAGUID is kept for the record).

A sign count that does not go up after a valid signature means two copies of the private
key are in use: the credential is flagged and refused until an administrator removes it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from strongroom.auth.store import digest, passkeys, webauthn_challenges
from strongroom.clock import SYSTEM_CLOCK, Clock

CHALLENGE_LIFETIME = 300
MAX_PASSKEYS = 10  # per principal: a few devices and spares, not a key farm
REGISTER = "register"
AUTHENTICATE = "authenticate"


class PasskeyRefused(Exception):  # noqa: N818 - a refusal, not a programming error
    """A refused ceremony; `reason` is for the journal, the client gets one message."""

    def __init__(self, reason: str, principal_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.principal_id = principal_id


@dataclass(frozen=True)
class PasskeyInfo:
    credential_id: str
    name: str
    transports: list[str]
    aaguid: str
    sign_count: int
    created_at: float
    last_used_at: float | None
    flagged: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "name": self.name,
            "transports": self.transports,
            "aaguid": self.aaguid,
            "sign_count": self.sign_count,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "flagged": self.flagged,
        }


@dataclass(frozen=True)
class PasskeySignIn:
    principal_id: str
    credential_id: str
    auth_time: float


def relying_party(public_url: str) -> tuple[str, str]:
    """(RP ID, origin) of the server reached at `public_url`."""
    parts = urlsplit(public_url)
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"not an absolute URL: {public_url!r}")
    return parts.hostname, f"{parts.scheme}://{parts.netloc}"


class Passkeys:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        rp_id: str,
        origin: str,
        rp_name: str = "Strongroom",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.engine = engine
        self.rp_id = rp_id
        self.origin = origin
        self.rp_name = rp_name
        self.clock = clock

    # --- registration --------------------------------------------------------------------
    def registration_options(self, principal_id: str, user_name: str) -> dict[str, Any]:
        existing = self.list(principal_id)
        if len(existing) >= MAX_PASSKEYS:
            raise PasskeyRefused("too_many_passkeys", principal_id)
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_name=user_name,
            user_id=principal_id.encode("utf-8"),
            challenge=self._new_challenge(REGISTER, principal_id),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            # The same authenticator registered twice would count as two factors of one.
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
                for p in existing
            ],
        )
        return _json(options_to_json(options))

    def verify_registration(
        self, principal_id: str, credential: Mapping[str, Any], *, name: str | None = None
    ) -> PasskeyInfo:
        try:
            parsed = parse_registration_credential_json(dict(credential))
            challenge = self._take_challenge(
                parsed.response.client_data_json, REGISTER, principal_id
            )
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=True,
            )
        except PasskeyRefused as refused:
            raise PasskeyRefused(refused.reason, principal_id) from None
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise PasskeyRefused(_reason(exc), principal_id) from None
        now = self.clock.now()
        credential_id = bytes_to_base64url(verified.credential_id)
        transports = [str(t.value) for t in (parsed.response.transports or [])]
        label = (name or "").strip()[:128] or f"passkey {credential_id[:8]}"
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.select(passkeys.c.principal_id).where(passkeys.c.credential_id == credential_id)
            ).first()
            if taken is not None:
                raise PasskeyRefused("credential_already_registered", principal_id)
            conn.execute(
                passkeys.insert().values(
                    credential_id=credential_id,
                    principal_id=principal_id,
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=transports,
                    aaguid=verified.aaguid,
                    name=label,
                    created_at=now,
                    last_used_at=None,
                    flagged_at=None,
                )
            )
        return PasskeyInfo(
            credential_id, label, transports, verified.aaguid, verified.sign_count, now, None, False
        )

    # --- sign-in -------------------------------------------------------------------------
    def authentication_options(self, bound_to: str) -> dict[str, Any]:
        """Options for a sign-in bound to `bound_to` (the digest of a pushed request). No
        credentials are listed: the page does not know who is signing in, and listing them
        would tell a stranger which accounts have passkeys."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=self._new_challenge(AUTHENTICATE, bound_to),
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return _json(options_to_json(options))

    def verify_authentication(self, bound_to: str, credential: Mapping[str, Any]) -> PasskeySignIn:
        principal_id: str | None = None
        try:
            parsed = parse_authentication_credential_json(dict(credential))
            challenge = self._take_challenge(
                parsed.response.client_data_json, AUTHENTICATE, bound_to
            )
            row = self._credential(parsed.id)
            if row is None:
                raise PasskeyRefused("unknown_passkey")
            principal_id = str(row["principal_id"])
            if row["flagged_at"] is not None:
                raise PasskeyRefused("passkey_flagged", principal_id)
            handle = parsed.response.user_handle
            if handle is not None and handle != principal_id.encode("utf-8"):
                raise PasskeyRefused("user_handle_mismatch", principal_id)
            # The sign count is compared below, after the signature: only a real
            # signature with a stale count is evidence of a cloned key worth flagging.
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=bytes(row["public_key"]),
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        except PasskeyRefused as refused:
            raise PasskeyRefused(refused.reason, refused.principal_id or principal_id) from None
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise PasskeyRefused(_reason(exc), principal_id) from None
        now = self.clock.now()
        stored, new = int(row["sign_count"]), verified.new_sign_count
        where = passkeys.c.credential_id == parsed.id
        if (new > 0 or stored > 0) and new <= stored:
            with self.engine.begin() as conn:
                conn.execute(passkeys.update().where(where).values(flagged_at=now))
            raise PasskeyRefused("sign_count_regressed", principal_id)
        with self.engine.begin() as conn:
            moved = conn.execute(
                passkeys.update()
                .where(where, passkeys.c.sign_count == stored, passkeys.c.flagged_at.is_(None))
                .values(sign_count=new, last_used_at=now)
            )
        if moved.rowcount != 1:
            # Another sign-in with this key moved the count first: one of the two is a copy.
            raise PasskeyRefused("concurrent_sign_in", principal_id)
        return PasskeySignIn(principal_id, parsed.id, now)

    # --- the credentials of a principal --------------------------------------------------
    def list(self, principal_id: str) -> list[PasskeyInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(passkeys)
                .where(passkeys.c.principal_id == principal_id)
                .order_by(passkeys.c.created_at)
            ).mappings()
            return [
                PasskeyInfo(
                    r["credential_id"],
                    r["name"],
                    list(r["transports"]),
                    r["aaguid"],
                    int(r["sign_count"]),
                    r["created_at"],
                    r["last_used_at"],
                    r["flagged_at"] is not None,
                )
                for r in rows
            ]

    def has_passkey(self, principal_id: str) -> bool:
        return bool(self.list(principal_id))

    def remove(self, principal_id: str, credential_id: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                passkeys.delete().where(
                    passkeys.c.principal_id == principal_id,
                    passkeys.c.credential_id == credential_id,
                )
            )
        return done.rowcount == 1

    # --- internals -----------------------------------------------------------------------
    def _credential(self, credential_id: str) -> sa.RowMapping | None:
        with self.engine.connect() as conn:
            return (
                conn.execute(sa.select(passkeys).where(passkeys.c.credential_id == credential_id))
                .mappings()
                .first()
            )

    def _new_challenge(self, ceremony: str, bound_to: str) -> bytes:
        challenge = secrets.token_bytes(32)
        now = self.clock.now()
        with self.engine.begin() as conn:
            conn.execute(webauthn_challenges.delete().where(webauthn_challenges.c.expires_at < now))
            conn.execute(
                webauthn_challenges.insert().values(
                    challenge_hash=digest(bytes_to_base64url(challenge)),
                    ceremony=ceremony,
                    bound_to=bound_to,
                    expires_at=now + CHALLENGE_LIFETIME,
                )
            )
        return challenge

    def _take_challenge(self, client_data_json: bytes, ceremony: str, bound_to: str) -> bytes:
        """The challenge the client answered, deleted so it is answered once, if this
        server issued it for this ceremony and binding and it has not expired."""
        challenge = parse_client_data_json(client_data_json).challenge
        with self.engine.begin() as conn:
            done = conn.execute(
                webauthn_challenges.delete().where(
                    webauthn_challenges.c.challenge_hash == digest(bytes_to_base64url(challenge)),
                    webauthn_challenges.c.ceremony == ceremony,
                    webauthn_challenges.c.bound_to == bound_to,
                    webauthn_challenges.c.expires_at >= self.clock.now(),
                )
            )
        if done.rowcount != 1:
            raise PasskeyRefused("unknown_challenge")
        return challenge


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "origin" in text:
        return "wrong_origin"
    if "rp id" in text or "rpidhash" in text.replace(" ", ""):
        return "wrong_rp_id"
    if "signature" in text:
        return "bad_signature"
    if "user verification" in text or "user presence" in text:
        return "user_not_verified"
    return "invalid_passkey_response"


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value
