"""`strongroom analytics ...`: the masked, aggregated release analysts query directly
(docs/analytics.md). Each command is journaled as the local operator's."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer

from strongroom.cli.common import cli_errors, console, err_console, open_service

if TYPE_CHECKING:
    from strongroom.analytics import BuildReport

analytics_app = typer.Typer(
    help="Analytics views for BI tools and SQL consoles: build, refresh, grant.",
    no_args_is_help=True,
)

PASSWORD_ENV = "STRONGROOM_ANALYST_PASSWORD"  # noqa: S105 - the variable's name
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


def _show(report: BuildReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    from rich.table import Table

    console.print(
        f"release {report.release} ({report.action}) written to {report.target} in "
        f"{report.seconds:.1f} s: {report.persons:,} persons, k = {report.k}",
        highlight=False,
    )
    table = Table("view", "kind", "rows", "suppressed", "persons withheld")
    for v in report.views:
        table.add_row(
            v.name,
            v.kind,
            f"{v.rows:,}",
            f"{v.suppressed:,}",
            f"{v.withheld:,}" if v.kind == "rows" else "",
        )
    console.print(table)
    console.print(
        f"suppressed: {report.primary:,} small cells, {report.complements:,} complements",
        highlight=False,
    )
    if report.already_published:
        console.print(
            f"[yellow]warning:[/yellow] {report.already_published} cells under k now were "
            "published by an earlier release with the same count (k was raised?)",
            highlight=False,
        )


@analytics_app.command("build")
def build(
    regeneralize: Annotated[
        bool,
        typer.Option(
            "--regeneralize",
            help="build although quasi-identifier generalizations changed since the last "
            "release (such releases can be subtracted from each other; journaled)",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Build a release of the views the policy declares (first time, or after the policy's
    analytics section changed)."""
    with cli_errors(), open_service() as svc:
        report = svc.analytics.build(svc.admin.operator(), regeneralize=regeneralize)
    _show(report, as_json)


@analytics_app.command("refresh")
def refresh(as_json: JsonOption = False) -> None:
    """Recount every view under unchanged declarations; suppressions of earlier releases
    stay."""
    with cli_errors(), open_service() as svc:
        report = svc.analytics.build(svc.admin.operator(), refresh=True)
    _show(report, as_json)


@analytics_app.command("grant")
def grant(
    role: Annotated[str, typer.Option(help="the PostgreSQL role to create or update")] = (
        "strongroom_analyst"
    ),
    login: Annotated[
        bool,
        typer.Option(
            "--login",
            help=f"let the role log in, with the password in ${PASSWORD_ENV} (prompted when "
            "unset); without it the role is a group to grant to analysts' own roles",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Give a PostgreSQL role SELECT on schema analytics, and nothing else (checked)."""
    password = None
    if login:
        password = os.environ.get(PASSWORD_ENV) or typer.prompt(
            f"password for {role}", hide_input=True, confirmation_prompt=True
        )
    with cli_errors(), open_service() as svc:
        report = svc.analytics.grant(svc.admin.operator(), role, password=password)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "role": report.role,
                    "created": report.created,
                    "login": report.login,
                    "tables": report.tables,
                    "reach_beyond_analytics": report.reach,
                },
                indent=2,
            )
        )
    else:
        verb = "created" if report.created else "updated"
        console.print(
            f"role {report.role} {verb}: SELECT on {report.tables} tables of schema analytics",
            highlight=False,
        )
    if report.reach:
        for what in report.reach:
            err_console.print(f"[red]reaches beyond analytics:[/red] {what}", highlight=False)
        raise typer.Exit(1)
