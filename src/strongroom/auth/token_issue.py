"""Access tokens issued directly, for scripts, demos and tests: what `strongroom token
issue` prints. The role's scopes, default purpose and lifetime come from the policy; a
staff subject's département and dealer from its principal row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strongroom.auth.clients import PrincipalInfo
from strongroom.auth.rfc9068 import TokenService
from strongroom.auth.role_grants import RoleGrant


class TokenIssuer:
    def __init__(
        self,
        *,
        tokens: TokenService,
        role_grants: Callable[[str], RoleGrant],
        principals: Callable[[str], PrincipalInfo | None],
    ) -> None:
        self.tokens = tokens
        self.role_grants = role_grants
        self.principals = principals

    def issue(
        self,
        *,
        role: str,
        subject: str,
        purpose: str | None = None,
        case: str | None = None,
        justification: str | None = None,
        lifetime: int | None = None,
        **claims: Any,
    ) -> str:
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
            **claims,
        )
