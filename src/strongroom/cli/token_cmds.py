"""`strongroom token issue`: mint an RFC 9068 access token from the home's signing keys.

For operators and demos on the machine that holds the keys; clients use the OAuth endpoints.
In production mode (config.toml) only a token bound to a DPoP key the operator gives is
minted, and the journal records it as an administrative action.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors, home
from strongroom.config import Home

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
    dpop_jkt: Annotated[
        str | None,
        typer.Option("--dpop-jkt", help="bind to the DPoP key with this RFC 7638 thumbprint"),
    ] = None,
    dpop_key: Annotated[
        Path | None,
        typer.Option("--dpop-key", help="bind to the DPoP key in this public JWK file"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print an RFC 6749 §5.1 body")] = False,
) -> None:
    """Print a signed access token for ROLE and SUBJECT (in production mode, bound to a
    DPoP key and journaled)."""
    with cli_errors():
        jkt = _binding(dpop_jkt, dpop_key)
        token, seconds = mint_token(
            home(),
            role=role,
            subject=subject,
            purpose=purpose,
            case=case,
            scopes=set(scope) if scope else None,
            lifetime=lifetime,
            departement=departement,
            dealer=dealer,
            justification=justification,
            jkt=jkt,
        )
    if as_json:
        token_type = "DPoP" if jkt else "Bearer"
        typer.echo(
            json.dumps({"access_token": token, "token_type": token_type, "expires_in": seconds})
        )
    else:
        typer.echo(token)


def mint_token(
    h: Home,
    *,
    role: str,
    subject: str,
    purpose: str | None = None,
    case: str | None = None,
    scopes: set[str] | None = None,
    lifetime: int | None = None,
    departement: str | None = None,
    dealer: str | None = None,
    justification: str | None = None,
    jkt: str | None = None,
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds. In production mode only a token
    bound to a DPoP key (`jkt`) is minted, through the administration tasks (journaled);
    in demo mode the home's signing key signs it directly."""
    from strongroom.auth.rfc9068 import TokenService
    from strongroom.auth.role_grants import load_role_grant
    from strongroom.errors import BadRequest

    settings = h.settings()
    grant = load_role_grant(role, h.policy_path)
    chosen = set(scopes) if scopes else set(grant.scopes)
    extra = chosen - grant.scopes
    if extra:
        raise BadRequest(f"role {role} may not hold scope(s): {', '.join(sorted(extra))}")
    chosen_purpose = purpose or grant.default_purpose
    if grant.purposes and chosen_purpose not in grant.purposes:
        raise BadRequest(f"role {role} has no purpose {chosen_purpose!r}")
    seconds = lifetime or grant.token_lifetime_seconds
    if not settings.production:
        service = TokenService(h.keys_dir, issuer=settings.issuer, audience=settings.audience)
        token = service.issue_access_token(
            subject=subject,
            role=role,
            scopes=chosen,
            purpose=chosen_purpose,
            case=case,
            departement=departement,
            dealer_id=dealer,
            lifetime=seconds,
            justification=justification,
            jkt=jkt,
        )
        return token, seconds
    if jkt is None:
        raise BadRequest(
            f'{h.config_path} sets mode = "production": no unbound token is '
            "issued. Bind it to the client's DPoP key: --dpop-jkt THUMBPRINT or "
            "--dpop-key PUBLIC_JWK_FILE",
            reason="unbound_token",
        )
    if departement or dealer:
        raise BadRequest(
            "in production mode a token's département and dealer come from the "
            "principal's row: drop --departement and --dealer"
        )
    from strongroom.compose import compose

    svc = compose(h)
    try:
        token = svc.admin.issue_token(
            role=role,
            subject=subject,
            jkt=jkt,
            scopes=frozenset(chosen),
            purpose=chosen_purpose,
            case=case,
            justification=justification,
            lifetime=seconds,
        )
    finally:
        svc.close()
    return token, seconds


def _binding(jkt: str | None, key_file: Path | None) -> str | None:
    """The thumbprint a token is bound to, from --dpop-jkt or --dpop-key (not both)."""
    from strongroom.auth.rfc9449_dpop import check_thumbprint, key_thumbprint
    from strongroom.errors import BadRequest

    if jkt and key_file:
        raise BadRequest("give --dpop-jkt or --dpop-key, not both")
    if jkt:
        return check_thumbprint(jkt)
    if key_file is None:
        return None
    try:
        jwk = json.loads(key_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"--dpop-key {key_file}: not a readable JSON file ({exc})") from None
    return key_thumbprint(jwk)
