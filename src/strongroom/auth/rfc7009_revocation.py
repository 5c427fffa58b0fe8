"""RFC 7009: token revocation. A refresh token's revocation ends its session (§2.1: the
server may revoke the access tokens of the same grant, and the session does exactly that);
an access token is listed by `jti` until it would have expired. Unknown tokens answer 200
(§2.2), so the endpoint tells nothing about which tokens exist.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from strongroom.auth.server import AuthorizationServer
from strongroom.auth.store import digest, refresh_tokens
from strongroom.errors import Unauthorized


def revoke(server: AuthorizationServer, form: Mapping[str, str]) -> None:
    client = server.authenticate_client(form)
    token = form.get("token") or ""
    hint = form.get("token_type_hint")
    if hint != "access_token":
        with server.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == digest(token))
                )
                .mappings()
                .first()
            )
        if row is not None:
            if row["client_id"] == client.client_id:
                now = server.clock.now()
                with server.engine.begin() as conn:
                    conn.execute(
                        refresh_tokens.update()
                        .where(refresh_tokens.c.family_id == row["family_id"])
                        .values(revoked_at=now)
                    )
                if row["session_id"]:
                    server.sessions.end(row["session_id"], "revoked")
            return
    try:
        claims = server.tokens.verify_access_token(token)
    except Unauthorized:
        return
    if claims.get("client_id") == client.client_id:
        server.sessions.revoke_token(str(claims["jti"]), float(claims["exp"]))
