"""OAuth clients (RFC 6749 §2) and the principals behind logins, as the server sees them.

Public clients (the CLI, a browser console) use the authorization code grant with PKCE and
always rotate refresh tokens; confidential service accounts authenticate with
`private_key_jwt` (RFC 7523) and use client credentials. Implicit and password grants do not
exist here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749.errors import InvalidClientError

from strongroom.auth.store import clients
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import BadRequest

GRANTS = frozenset({"authorization_code", "refresh_token", "client_credentials"})


@dataclass(frozen=True)
class Client:
    client_id: str
    public: bool
    redirect_uris: tuple[str, ...]
    grant_types: frozenset[str]
    jwks: dict[str, Any] | None
    service_principal_id: str | None
    rotate_refresh_tokens: bool


@dataclass(frozen=True)
class PrincipalInfo:
    principal_id: str
    role: str
    departement: str | None = None
    dealer_id: str | None = None
    active: bool = True


PrincipalLookup = Callable[[str], "PrincipalInfo | None"]


class ClientRegistry:
    def __init__(self, engine: sa.Engine, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.engine = engine
        self.clock = clock

    def register(
        self,
        client_id: str,
        *,
        public: bool,
        redirect_uris: Iterable[str] = (),
        grant_types: Iterable[str] = ("authorization_code", "refresh_token"),
        jwks: dict[str, Any] | None = None,
        service_principal_id: str | None = None,
        rotate_refresh_tokens: bool = True,
    ) -> Client:
        grants = frozenset(grant_types)
        if not grants <= GRANTS:
            raise BadRequest("unsupported grant type(s): " + ", ".join(sorted(grants - GRANTS)))
        if public and "client_credentials" in grants:
            raise BadRequest("a public client cannot use client credentials")
        if not public and not (jwks and jwks.get("keys")):
            raise BadRequest("a confidential client needs a JWKS for private_key_jwt")
        if "client_credentials" in grants and not service_principal_id:
            raise BadRequest("client credentials need a service principal")
        uris = tuple(redirect_uris)
        for uri in uris:
            if not (
                uri.startswith("https://")
                or uri.startswith("http://127.0.0.1")
                or uri.startswith("http://localhost")
            ):
                raise BadRequest("redirect URIs are https (or loopback http, RFC 8252 §7.3)")
        # Public clients always rotate: their refresh tokens are the ones that get stolen.
        rotate = True if public else rotate_refresh_tokens
        with self.engine.begin() as conn:
            conn.execute(clients.delete().where(clients.c.client_id == client_id))
            conn.execute(
                clients.insert().values(
                    client_id=client_id,
                    public=public,
                    redirect_uris=list(uris),
                    grant_types=sorted(grants),
                    jwks=jwks,
                    service_principal_id=service_principal_id,
                    rotate_refresh_tokens=rotate,
                    created_at=self.clock.now(),
                )
            )
        return Client(client_id, public, uris, grants, jwks, service_principal_id, rotate)

    def get(self, client_id: str | None) -> Client:
        if not client_id:
            raise InvalidClientError(description="client_id required")
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(clients).where(clients.c.client_id == client_id))
                .mappings()
                .first()
            )
        if row is None:
            raise InvalidClientError(description="unknown client")
        return Client(
            row["client_id"],
            row["public"],
            tuple(row["redirect_uris"]),
            frozenset(row["grant_types"]),
            row["jwks"],
            row["service_principal_id"],
            row["rotate_refresh_tokens"],
        )
