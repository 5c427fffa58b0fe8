"""`strongroom case ...`: cases as the local operator, for the unit it names (the path a
deployment without a case-management system feeding the API takes)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors, console, open_service

case_app = typer.Typer(help="Cases: open, link, close, list.", no_args_is_help=True)

UnitOption = Annotated[
    str, typer.Option(help="the unit that owns the case: ROLE:DEPARTEMENT, e.g. prefecture:75")
]


@case_app.command("open")
def open_(
    unit: UnitOption,
    kind: Annotated[str, typer.Option(help="a kind the policy lets the unit's role open")],
    reference: Annotated[str, typer.Option(help="the legal or procedure reference")],
) -> None:
    """Open a case and print its ID."""
    with cli_errors(), open_service() as svc:
        case = svc.cases.open_as_operator(
            svc.admin.operator(), unit=unit, kind=kind, reference=reference
        )
    typer.echo(case["id"])


@case_app.command("link")
def link(
    case_id: str,
    subject_id: str,
    reason: Annotated[str, typer.Option(help="why this subject belongs to the case")],
) -> None:
    """Link a subject to an open case (it may wait for a second agent's approval)."""
    with cli_errors(), open_service() as svc:
        out = svc.cases.link_as_operator(svc.admin.operator(), case_id, subject_id, reason)
    typer.echo(f"{subject_id} linked to {case_id}: {out['status']}")


@case_app.command("close")
def close(case_id: str) -> None:
    """Close a case: it grants nothing from then on."""
    with cli_errors(), open_service() as svc:
        svc.cases.close_as_operator(svc.admin.operator(), case_id)
    typer.echo(f"closed {case_id}")


@case_app.command("list")
def list_(
    unit: UnitOption,
    status: Annotated[str | None, typer.Option(help="open or closed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The unit's cases (metadata only)."""
    from rich.table import Table

    with cli_errors(), open_service() as svc:
        rows = svc.cases.list_all(unit, status)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "kind", "reference", "status", "opened by")
    for r in rows:
        table.add_row(r["id"], r["kind"], r["reference"], r["status"], r["opened_by"])
    console.print(table)
