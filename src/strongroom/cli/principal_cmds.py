"""`strongroom principal ...`: staff accounts."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors, console, open_service

principal_app = typer.Typer(
    help="Staff principals: add, list, revoke, credentials, unlock.", no_args_is_help=True
)


@principal_app.command("add")
def add(
    role: Annotated[str, typer.Option(help="dealer, police, prefecture, auditor or admin")],
    departement: Annotated[str | None, typer.Option(help="département code (prefecture)")] = None,
    dealer: Annotated[str | None, typer.Option(help="dealer public ID (dealer accounts)")] = None,
    label: Annotated[str, typer.Option(help="a label for humans, no PII")] = "",
) -> None:
    """Create a staff principal and print its ID."""
    with cli_errors(), open_service() as svc:
        pid = svc.admin.add_principal(
            role=role, departement=departement, dealer=dealer, label=label
        )
    typer.echo(pid)


@principal_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List staff principals."""
    from rich.table import Table

    with cli_errors(), open_service() as svc:
        rows = svc.admin.list_principals()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "role", "département", "dealer", "status", "label")
    for r in rows:
        table.add_row(
            r["id"], r["role"], r["departement"] or "", r["dealer"] or "", r["status"], r["label"]
        )
    console.print(table)


@principal_app.command("revoke")
def revoke(
    principal_id: str,
    why: Annotated[str, typer.Option(help="reason, journaled")] = "revoked by CLI",
) -> None:
    """Suspend a principal and revoke every token it holds, effective on its next request."""
    with cli_errors(), open_service() as svc:
        svc.admin.revoke_principal(svc.admin.operator(), principal_id, why)
    typer.echo(f"revoked {principal_id}")


@principal_app.command("sessions")
def sessions(
    principal_id: str,
    revoke: Annotated[
        str | None, typer.Option("--revoke", help="end this session (its ID), or 'all'")
    ] = None,
    why: Annotated[str, typer.Option(help="reason, journaled with --revoke")] = "ended by CLI",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List a principal's live sessions (where each signed in from), or end one or all."""
    from rich.table import Table

    with cli_errors(), open_service() as svc:
        if revoke is not None:
            ended = svc.admin.end_sessions(principal_id, revoke, why)
            typer.echo(f"ended {ended} session(s) of {principal_id}")
            return
        rows = svc.authorization_server.sessions.of_principal(principal_id)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("session", "client", "acr", "network", "browser", "since", "last seen")
    for r in rows:
        table.add_row(
            r["session"],
            r["client"],
            r["acr"] or "",
            r["ip_prefix"] or "",
            (r["user_agent"] or "")[:40],
            _when(r["created_at"]),
            _when(r["last_seen"]),
        )
    console.print(table)


def _when(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@principal_app.command("unlock")
def unlock(
    principal_id: str,
    why: Annotated[str, typer.Option(help="reason, journaled (who confirmed, how)")],
) -> None:
    """Lift the lock failed sign-ins put on an account and forget its failures."""
    with cli_errors(), open_service() as svc:
        svc.admin.unlock_principal(principal_id, why)
    typer.echo(f"unlocked {principal_id}")


@principal_app.command("password")
def password(
    principal_id: str,
    username: Annotated[str, typer.Option(help="the sign-in name (no PII needed)")],
    password_: Annotated[
        str,
        typer.Option(
            "--password",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="at least 12 characters (prompted, hidden, when omitted)",
        ),
    ],
) -> None:
    """Set a principal's sign-in name and password (argon2id) for the login page."""
    with cli_errors(), open_service() as svc:
        svc.admin.set_password(principal_id, username, password_)
    typer.echo(f"password set for {principal_id}")


@principal_app.command("totp")
def totp(
    principal_id: str,
    code: Annotated[
        str | None,
        typer.Option(help="a code from the authenticator, to confirm (prompted when omitted)"),
    ] = None,
) -> None:
    """Enroll a TOTP second factor: prints the otpauth:// URI for the authenticator app,
    then confirms with a code from it. Staff roles cannot sign in without one."""
    with cli_errors(), open_service() as svc:
        uri = svc.authorization_server.credentials.begin_totp_enrollment(principal_id)
        typer.echo(uri)
        if code is None:
            code = typer.prompt("code from the authenticator")
        svc.authorization_server.credentials.confirm_totp_enrollment(principal_id, code)
    typer.echo(f"second factor enrolled for {principal_id}")
