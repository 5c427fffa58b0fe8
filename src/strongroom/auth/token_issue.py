"""Access tokens issued directly, for scripts, demos and tests: what `strongroom token
issue` prints. The role's scopes, default purpose and lifetime come from the policy; a
staff subject's département and dealer from its principal row.

With `require_binding` (production mode) a token is issued only bound to a DPoP key the
operator supplies (`jkt`): the API refuses unbound tokens there, and this is no side door
around that."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strongroom.auth.clients import PrincipalInfo
from strongroom.auth.rfc9068 import TokenService
from strongroom.auth.role_grants import RoleGrant
from strongroom.errors import BadRequest


class TokenIssuer:
    def __init__(
        self,
        *,
        tokens: TokenService,
        role_grants: Callable[[str], RoleGrant],
        principals: Callable[[str], PrincipalInfo | None],
        require_binding: bool = False,
    ) -> None:
        self.tokens = tokens
        self.role_grants = role_grants
        self.principals = principals
        self.require_binding = require_binding

    def issue(
        self,
        *,
        role: str,
        subject: str,
        purpose: str | None = None,
        case: str | None = None,
        justification: str | None = None,
        lifetime: int | None = None,
        jkt: str | None = None,
        **claims: Any,
    ) -> str:
        if self.require_binding and not jkt:
            raise BadRequest(
                "production mode issues only DPoP-bound tokens: give the client's key "
                "thumbprint (--dpop-jkt) or public key (--dpop-key)",
                reason="unbound_token",
            )
        grant = self.role_grants(role)
        departement = dealer = None
        if grant.staff:
            row = self.principals(subject)
            if row is not None:
                departement, dealer = row.departement, row.dealer_id
        return self.tokens.issue_access_token(
            subject=subject,
            role=role,
            scopes=claims.pop("scopes", grant.scopes),
            purpose=purpose or grant.default_purpose,
            case=case,
            departement=departement,
            dealer_id=dealer,
            lifetime=lifetime or grant.token_lifetime_seconds,
            justification=justification,
            jkt=jkt,
            **claims,
        )
