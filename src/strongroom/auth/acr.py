"""Authentication context classes (`acr`, RFC 9470) and methods (`amr`, RFC 8176), ordered.

A step-up asks for a level, not a name: a passkey session satisfies a purpose that asks
for TOTP, never the other way round, and an `acr` this server did not issue ranks lowest
so a token minted elsewhere cannot claim a level by spelling it differently.
"""

from __future__ import annotations

from typing import Literal

ACR_PASSWORD = "urn:strongroom:acr:pwd"  # noqa: S105 - an acr name
ACR_MFA = "urn:strongroom:acr:mfa"
# Phishing-resistant: a WebAuthn credential bound to our origin answered a fresh challenge.
ACR_PHR = "urn:strongroom:acr:phr"

AcrLevel = Literal["pwd", "mfa", "phr"]
LEVELS: dict[AcrLevel, str] = {"pwd": ACR_PASSWORD, "mfa": ACR_MFA, "phr": ACR_PHR}
_RANK = {ACR_PASSWORD: 1, ACR_MFA: 2, ACR_PHR: 3}

AMR_PASSWORD = ["pwd"]  # noqa: S105 - RFC 8176 method names
AMR_TOTP = ["pwd", "otp", "mfa"]
# A hardware-bound key, with user verification (PIN or biometric) by the authenticator.
AMR_PASSKEY = ["hwk", "user"]


def rank(acr: str | None) -> int:
    return _RANK.get(acr or "", 0)


def satisfies(acr: str | None, required: str) -> bool:
    return rank(acr) >= rank(required) > 0
