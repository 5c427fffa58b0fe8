"""`strongroom token issue`: mint an RFC 9068 access token from the home's signing keys.

For operators and demos on the machine that holds the keys; clients use the OAuth endpoints.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors, home

token_app = typer.Typer(help="Access tokens signed by this home's keys.", no_args_is_help=True)


@token_app.command("issue")
def issue(
    role: Annotated[str, typer.Option("--role", help="role of the principal")],
    subject: Annotated[str, typer.Option("--subject", help="principal (or owner) public ID")],
    purpose: Annotated[str | None, typer.Option(help="task purpose (default: the role's)")] = None,
    case: Annotated[str | None, typer.Option(help="case reference the task is for")] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="scope, repeatable (default: the role's scopes)"),
    ] = None,
    lifetime: Annotated[
        int | None,
        typer.Option(min=1, max=3600, help="seconds (default: the role's token lifetime)"),
    ] = None,
    departement: Annotated[str | None, typer.Option(help="département (prefecture)")] = None,
    dealer: Annotated[str | None, typer.Option(help="dealer organisation ID")] = None,
    justification: Annotated[str | None, typer.Option(help="why this access")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print an RFC 6749 §5.1 body")] = False,
) -> None:
    """Print a signed access token for ROLE and SUBJECT."""
    from strongroom.auth.rfc9068 import TokenService
    from strongroom.auth.role_grants import load_role_grant
    from strongroom.errors import BadRequest

    with cli_errors():
        h = home()
        settings = h.settings()
        grant = load_role_grant(role, h.policy_path)
        scopes = set(scope) if scope else set(grant.scopes)
        extra = scopes - grant.scopes
        if extra:
            raise BadRequest(f"role {role} may not hold scope(s): {', '.join(sorted(extra))}")
        chosen_purpose = purpose or grant.default_purpose
        if grant.purposes and chosen_purpose not in grant.purposes:
            raise BadRequest(f"role {role} has no purpose {chosen_purpose!r}")
        seconds = lifetime or grant.token_lifetime_seconds
        service = TokenService(h.keys_dir, issuer=settings.issuer, audience=settings.audience)
        token = service.issue_access_token(
            subject=subject,
            role=role,
            scopes=scopes,
            purpose=chosen_purpose,
            case=case,
            departement=departement,
            dealer_id=dealer,
            lifetime=seconds,
            justification=justification,
        )
    if as_json:
        typer.echo(
            json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": seconds})
        )
    else:
        typer.echo(token)
