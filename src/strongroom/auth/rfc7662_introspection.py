"""RFC 7662: token introspection, for authenticated confidential clients only (§2.1), so
it is no oracle for stolen tokens. Inactive, revoked, unknown: all `{"active": false}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from strongroom.auth.server import AuthorizationServer
from strongroom.auth.store import digest, refresh_tokens
from strongroom.errors import Unauthorized

_COPIED = (
    "scope",
    "client_id",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
    "cnf",
    "authorization_details",
    "acr",
    "amr",
    "auth_time",
    "sid",
)


def introspect(server: AuthorizationServer, form: Mapping[str, str]) -> dict[str, Any]:
    server.authenticate_client(form, require_confidential=True)
    token = form.get("token") or ""
    try:
        claims = server.tokens.verify_access_token(token)
    except Unauthorized:
        return _refresh_token_info(server, token)
    if server.sessions.is_revoked(claims):
        return {"active": False}
    sid = claims.get("sid")
    if sid is not None and server.sessions.active(str(sid)) is None:
        return {"active": False}
    out: dict[str, Any] = {"active": True, "token_type": "DPoP" if "cnf" in claims else "Bearer"}
    out.update({k: claims[k] for k in _COPIED if k in claims})
    return out


def _refresh_token_info(server: AuthorizationServer, token: str) -> dict[str, Any]:
    with server.engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == digest(token))
            )
            .mappings()
            .first()
        )
    now = server.clock.now()
    if (
        row is None
        or row["revoked_at"] is not None
        or row["used_at"] is not None
        or row["expires_at"] < now
    ):
        return {"active": False}
    if row["session_id"] and server.sessions.active(row["session_id"]) is None:
        return {"active": False}
    return {
        "active": True,
        "token_type": "refresh_token",
        "client_id": row["client_id"],
        "sub": row["principal_id"],
        "exp": int(row["expires_at"]),
        "scope": " ".join(row["grant"]["scopes"]),
        "cnf": {"jkt": row["jkt"]},
    }
