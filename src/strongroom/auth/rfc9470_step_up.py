"""RFC 9470: step-up authentication challenge. A purpose that needs fresh MFA asks for an
`acr` showing a second factor and an `auth_time` within `max_age_seconds`; otherwise the
answer is 401 with `error="insufficient_user_authentication"`, `acr_values` and `max_age`,
so the client starts a new authorization with those parameters."""

from __future__ import annotations

from strongroom.auth.login import ACR_MFA
from strongroom.auth.rfc9068 import bearer_challenge
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.context import Caller
from strongroom.errors import Unauthorized

MFA_ACRS = frozenset({ACR_MFA})


def require_step_up(
    caller: Caller, max_age_seconds: int, *, clock: Clock = SYSTEM_CLOCK, scheme: str = "DPoP"
) -> None:
    fresh = (
        caller.acr in MFA_ACRS
        and caller.auth_time is not None
        and clock.now() - caller.auth_time <= max_age_seconds
    )
    if fresh:
        return
    description = "a recent second-factor authentication is required for this purpose"
    challenge = bearer_challenge(
        "insufficient_user_authentication",
        description,
        scheme=scheme,
        extra={"acr_values": ACR_MFA, "max_age": str(int(max_age_seconds))},
    )
    raise Unauthorized(
        description,
        reason="insufficient_user_authentication",
        headers={"WWW-Authenticate": challenge},
    )
