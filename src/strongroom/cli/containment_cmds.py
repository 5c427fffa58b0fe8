"""`strongroom containment ...`: the operator's last resort when a containment shuts out
the people who would lift it (issue 22: a network block took the whole office, its
administrator included). The CLI works on the home itself, no HTTP and no network, so no
IP-prefix block applies to it; every step still goes through the gate and its journal,
and a server on the same home honours a lift within its `sync_seconds`.

A containment a honey read set off takes two administrators: `lift` by one records the
request, `approve --as` by another lifts it (as exports' four eyes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from strongroom.cli.common import acting, cli_errors, open_service

containment_app = typer.Typer(
    help="Containments: list, lift, approve a lift (four eyes for honey reads).",
    no_args_is_help=True,
)

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="act as this administrator (default: the local operator)"),
]


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _status(c: dict[str, Any], now: float) -> str:
    if c.get("lifted_at") is not None:
        return f"lifted by {c['lifted_by']}"
    if c.get("expires_at") is not None and c["expires_at"] <= now:
        return "expired"
    request = c.get("lift_request")
    if request is not None:
        return f"lift requested by {request['requested_by']}"
    return "active, four eyes" if c.get("four_eyes") else "active"


@containment_app.command("list")
def list_(
    show_all: Annotated[
        bool, typer.Option("--all", help="lifted and expired ones too (newest first)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The containments in force (with --all, every one), newest first."""
    with cli_errors(), open_service() as svc:
        items = svc.admin.containments(svc.admin.operator(), only_active=not show_all).body
        now = svc.clock.now()
    rows = items["items"]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no containment in force" if not show_all else "no containment")
        return
    # Two lines each rather than a table: the ID (what `lift` takes) and the prefix stay
    # whole in a narrow terminal, and grep finds them.
    for c in rows:
        target = c["ip_prefix"] or (f"session {c['session']}" if c["session"] else "")
        typer.echo(f"{c['id']}  {c['action']}  {target or c['principal']}  {_status(c, now)}")
        until = f" until {_when(c['expires_at'])}" if c["expires_at"] is not None else ""
        typer.echo(
            f"    principal {c['principal']}, since {_when(c['created_at'])}{until}, "
            f"risk {c['risk']:g} ({', '.join(c['families']) or 'no family'})"
        )


@containment_app.command("lift")
def lift(
    containment_id: str,
    reason: Annotated[str, typer.Option(help="why it can be lifted, journaled")],
    principal: AsOption = None,
) -> None:
    """Lift a containment (the episode's others go with it); one a honey read set off is
    only requested here, and lifted when another administrator approves."""
    with cli_errors(), open_service() as svc:
        body = svc.admin.lift_containment(acting(svc, principal), containment_id, reason).body
    if "lifted" in body:
        typer.echo(f"lifted {containment_id}")
        return
    typer.echo(
        f"lift of {containment_id} requested by {body['lift_requested']['requested_by']}: a "
        "honey read set it off, so a second administrator approves it "
        f"(strongroom containment approve {containment_id} --as ADMIN)"
    )


@containment_app.command("approve")
def approve(
    containment_id: str,
    principal: AsOption = None,
    note: Annotated[str, typer.Option(help="a note kept with the approval")] = "",
) -> None:
    """Approve the lift another administrator requested (never your own)."""
    with cli_errors(), open_service() as svc:
        body = svc.admin.approve_lift(acting(svc, principal), containment_id, note).body
    typer.echo(f"lifted {containment_id} (requested by {body['requested_by']})")
