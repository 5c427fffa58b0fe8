"""RFC 6749 §3.2 token endpoint: authorization_code (+PKCE), refresh_token, client_credentials.

Every grant needs a DPoP proof (RFC 9449 §5) for this endpoint; access and refresh tokens are
bound to its key. Scopes are checked against the principal's role here, so a client never
obtains a scope its role lacks (`invalid_scope`, never silent widening). Refresh tokens of
rotating clients are single use: a second use of a rotated token revokes its whole family,
ends the session and raises a `refresh_token_reuse` security event (OAuth 2.0 Security BCP,
RFC 9700 §4.14.2). Codes are single use and live 60 s; a replayed code ends its session.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)

from strongroom.auth import rfc7636_pkce, rfc9396_rar
from strongroom.auth.clients import Client, PrincipalInfo
from strongroom.auth.server import AuthorizationServer
from strongroom.auth.store import codes, digest, refresh_tokens
from strongroom.errors import Unauthorized


def token_request(
    server: AuthorizationServer, form: Mapping[str, str], *, dpop: str | None, method: str, url: str
) -> dict[str, Any]:
    grant_type = form.get("grant_type")
    if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
        raise UnsupportedGrantTypeError(grant_type or "")
    client = server.authenticate_client(form)
    if grant_type not in client.grant_types:
        raise UnauthorizedClientError(f"client may not use {grant_type}")
    try:
        proof = server.dpop.verify(dpop, method=method, url=url)
    except Unauthorized as exc:
        raise InvalidDPoPProof(exc.detail) from exc
    if grant_type == "authorization_code":
        return _authorization_code(server, client, form, proof.jkt)
    if grant_type == "refresh_token":
        return _refresh(server, client, form, proof.jkt)
    return _client_credentials(server, client, form, proof.jkt)


class InvalidDPoPProof(InvalidRequestError):  # noqa: N818 - RFC 9449 §5 error name
    error = "invalid_dpop_proof"


def _scopes(
    server: AuthorizationServer,
    principal: PrincipalInfo,
    requested: str | None,
    ceiling: set[str] | None = None,
) -> list[str]:
    allowed = set(server.role_grant(principal).scopes)
    if ceiling is not None:
        allowed &= ceiling
    wanted = set((requested or "").split()) or allowed
    extra = wanted - allowed
    if extra:
        raise InvalidScopeError("scope not available to this role: " + " ".join(sorted(extra)))
    return sorted(wanted)


def _principal(server: AuthorizationServer, principal_id: str) -> PrincipalInfo:
    principal = server.principals(principal_id)
    if principal is None or not principal.active:
        raise InvalidGrantError("principal unknown or suspended")
    return principal


def _authorization_code(
    server: AuthorizationServer, client: Client, form: Mapping[str, str], jkt: str
) -> dict[str, Any]:
    code = form.get("code") or ""
    now = server.clock.now()
    with server.engine.begin() as conn:
        row = (
            conn.execute(sa.select(codes).where(codes.c.code_hash == digest(code)))
            .mappings()
            .first()
        )
        if row is None or row["client_id"] != client.client_id:
            raise InvalidGrantError("unknown authorization code")
        claimed = conn.execute(
            codes.update()
            .where(codes.c.code_hash == row["code_hash"], codes.c.used == sa.false())
            .values(used=True)
        )
    if claimed.rowcount != 1:
        server.sessions.end(row["session_id"], "code_replay")
        server.security_event(
            "authorization_code_replay",
            client_id=client.client_id,
            principal_id=row["principal_id"],
            session_id=row["session_id"],
        )
        raise InvalidGrantError("authorization code already used")
    if row["expires_at"] < now:
        raise InvalidGrantError("authorization code expired")
    params = row["params"]
    if form.get("redirect_uri") != params["redirect_uri"]:
        raise InvalidGrantError("redirect_uri differs from the authorization request")
    rfc7636_pkce.verify(form.get("code_verifier"), params["code_challenge"])
    if params.get("dpop_jkt") and params["dpop_jkt"] != jkt:
        raise InvalidGrantError("DPoP key differs from the one named at authorization")
    principal = _principal(server, row["principal_id"])
    scopes = _scopes(server, principal, params.get("scope"))
    detail = rfc9396_rar.resolve(params.get("authorization_details"), server.role_grant(principal))
    grant = {
        "role": principal.role,
        "scopes": scopes,
        "detail": detail,
        "acr": params.get("acr"),
        "amr": params.get("amr"),
        "auth_time": params.get("auth_time"),
    }
    family = secrets.token_urlsafe(16)
    return _issue(
        server, client, principal, grant, jkt, row["session_id"], family, with_refresh=True
    )


def _refresh(
    server: AuthorizationServer, client: Client, form: Mapping[str, str], jkt: str
) -> dict[str, Any]:
    presented = form.get("refresh_token") or ""
    now = server.clock.now()
    with server.engine.begin() as conn:
        row = (
            conn.execute(
                sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == digest(presented))
            )
            .mappings()
            .first()
        )
    if row is None or row["client_id"] != client.client_id:
        raise InvalidGrantError("unknown refresh token")
    if row["revoked_at"] is not None or row["expires_at"] < now:
        raise InvalidGrantError("refresh token revoked or expired")
    if row["jkt"] != jkt:
        raise InvalidGrantError("refresh token is bound to another DPoP key")
    if client.rotate_refresh_tokens:
        with server.engine.begin() as conn:
            claimed = conn.execute(
                refresh_tokens.update()
                .where(
                    refresh_tokens.c.token_hash == row["token_hash"],
                    refresh_tokens.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
        if claimed.rowcount != 1:
            _revoke_family(server, dict(row), now)
            raise InvalidGrantError("refresh token reused; the session has been revoked")
    sid = row["session_id"]
    if sid is not None and not server.sessions.touch(sid, now):
        raise InvalidGrantError("session expired")
    principal = _principal(server, row["principal_id"])
    grant = dict(row["grant"])
    # A refresh may narrow the scope, never widen it (RFC 6749 §6).
    grant["scopes"] = _scopes(server, principal, form.get("scope"), set(grant["scopes"]))
    return _issue(
        server,
        client,
        principal,
        grant,
        jkt,
        sid,
        row["family_id"],
        with_refresh=client.rotate_refresh_tokens,
        keep_refresh=presented,
    )


def _revoke_family(server: AuthorizationServer, row: Mapping[str, Any], now: float) -> None:
    with server.engine.begin() as conn:
        conn.execute(
            refresh_tokens.update()
            .where(refresh_tokens.c.family_id == row["family_id"])
            .values(revoked_at=now)
        )
    if row["session_id"] is not None:
        server.sessions.end(row["session_id"], "refresh_token_reuse")
    server.security_event(
        "refresh_token_reuse",
        principal_id=row["principal_id"],
        client_id=row["client_id"],
        session_id=row["session_id"],
        family_id=row["family_id"],
    )


def _client_credentials(
    server: AuthorizationServer, client: Client, form: Mapping[str, str], jkt: str
) -> dict[str, Any]:
    principal = _principal(server, str(client.service_principal_id))
    scopes = _scopes(server, principal, form.get("scope"))
    detail = rfc9396_rar.resolve(
        rfc9396_rar.parse(form.get("authorization_details")), server.role_grant(principal)
    )
    grant = {
        "role": principal.role,
        "scopes": scopes,
        "detail": detail,
        "acr": None,
        "auth_time": None,
    }
    # No refresh token for client credentials (RFC 6749 §4.4.3): the client can re-assert.
    return _issue(server, client, principal, grant, jkt, None, None, with_refresh=False)


def _issue(
    server: AuthorizationServer,
    client: Client,
    principal: PrincipalInfo,
    grant: dict[str, Any],
    jkt: str,
    sid: str | None,
    family: str | None,
    *,
    with_refresh: bool,
    keep_refresh: str | None = None,
) -> dict[str, Any]:
    lifetime = server.role_grant(principal).token_lifetime_seconds
    detail = grant["detail"]
    access = server.tokens.issue_access_token(
        subject=principal.principal_id,
        role=principal.role,
        scopes=grant["scopes"],
        purpose=detail.get("purpose"),
        case=detail.get("case"),
        justification=detail.get("justification"),
        departement=principal.departement,
        dealer_id=principal.dealer_id,
        lifetime=lifetime,
        session_id=sid,
        client_id=client.client_id,
        jkt=jkt,
        acr=grant.get("acr"),
        amr=grant.get("amr"),
        auth_time=grant.get("auth_time"),
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "DPoP",
        "expires_in": lifetime,
        "scope": " ".join(grant["scopes"]),
        "authorization_details": [detail],
    }
    if with_refresh and family is not None:
        now = server.clock.now()
        refresh = secrets.token_urlsafe(32)
        with server.engine.begin() as conn:
            conn.execute(
                refresh_tokens.insert().values(
                    token_hash=digest(refresh),
                    family_id=family,
                    session_id=sid,
                    client_id=client.client_id,
                    principal_id=principal.principal_id,
                    jkt=jkt,
                    grant=grant,
                    issued_at=now,
                    expires_at=now + server.refresh_lifetime,
                )
            )
        body["refresh_token"] = refresh
    elif keep_refresh is not None:
        body["refresh_token"] = keep_refresh
    return body
