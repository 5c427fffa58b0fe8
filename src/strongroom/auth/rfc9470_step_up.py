"""RFC 9470: step-up authentication challenge. A purpose that needs a step-up asks for an
`acr` of at least a level (TOTP or passkey, `auth/acr.py`) and an `auth_time` within
`max_age_seconds`; otherwise the answer is 401 with
`error="insufficient_user_authentication"`, `acr_values` and `max_age`, so the client starts
a new authorization with those parameters."""

from __future__ import annotations

from strongroom.auth.acr import ACR_MFA, ACR_PHR, satisfies
from strongroom.auth.rfc9068 import bearer_challenge
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.context import Caller
from strongroom.errors import Unauthorized

MFA_ACRS = frozenset({ACR_MFA, ACR_PHR})


def step_up_required(
    description: str, required_acr: str, max_age_seconds: int, *, scheme: str = "Bearer"
) -> Unauthorized:
    challenge = bearer_challenge(
        "insufficient_user_authentication",
        description,
        scheme=scheme,
        extra={"acr_values": required_acr, "max_age": str(int(max_age_seconds))},
    )
    return Unauthorized(
        description,
        reason="insufficient_user_authentication",
        headers={"WWW-Authenticate": challenge},
        extra={"max_age": int(max_age_seconds), "acr_values": required_acr},
    )


def require_step_up(
    caller: Caller,
    max_age_seconds: int,
    *,
    required_acr: str = ACR_MFA,
    clock: Clock = SYSTEM_CLOCK,
    scheme: str = "DPoP",
) -> None:
    fresh = (
        satisfies(caller.acr, required_acr)
        and caller.auth_time is not None
        and clock.now() - caller.auth_time <= max_age_seconds
    )
    if fresh:
        return
    description = (
        "a recent passkey sign-in is required for this purpose"
        if required_acr == ACR_PHR
        else "a recent second-factor authentication is required for this purpose"
    )
    raise step_up_required(description, required_acr, max_age_seconds, scheme=scheme)
