"""`strongroom client ...`: OAuth clients of the embedded authorization server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors, open_service

client_app = typer.Typer(
    help="OAuth clients: register public apps and service accounts.", no_args_is_help=True
)


@client_app.command("add")
def add(
    client_id: str,
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            help="redirect URI (https, or loopback http), repeatable, for sign-in clients"
        ),
    ] = None,
    jwks: Annotated[
        Path | None,
        typer.Option(help="public JWKS file of a confidential client (private_key_jwt, RFC 7523)"),
    ] = None,
    service_principal: Annotated[
        str | None,
        typer.Option(help="principal a service account acts as (client credentials grant)"),
    ] = None,
    no_rotation: Annotated[
        bool,
        typer.Option(
            "--no-rotation",
            help="confidential clients only: bind refresh tokens to the DPoP "
            "key without rotating them (FAPI 2.0)",
        ),
    ] = False,
) -> None:
    """Register a client. Without --jwks it is public (authorization code + PKCE, refresh
    tokens DPoP-bound and rotated on every use)."""
    with cli_errors(), open_service() as svc:
        keys = json.loads(jwks.read_text(encoding="utf-8")) if jwks else None
        grants = (
            ["client_credentials"] if service_principal else ["authorization_code", "refresh_token"]
        )
        client = svc.admin.register_client(
            client_id,
            public=keys is None,
            redirect_uris=redirect_uri or [],
            grant_types=grants,
            jwks=keys,
            service_principal_id=service_principal,
            rotate_refresh_tokens=not no_rotation,
        )
    kind = "public" if client.public else "confidential"
    typer.echo(f"registered {kind} client {client.client_id}")
