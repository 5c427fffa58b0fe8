"""`strongroom audit` and `strongroom drill`: thin adapters over `strongroom.posture`.

Both are plain functions (`audit_command`, `drill_command`) so the main app registers them
with `app.command("audit")(audit_command)` and `app.command("drill")(drill_command)`.
Exit codes follow cli/common.py: 0 clean, 1 findings at or above --fail-on (audit) or
records leaked beyond --fail-above (drill), 2 usage or configuration error.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from strongroom.cli.common import cli_errors, err_console


class AuditFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class FailOn(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Strategy(StrEnum):
    enumerate = "enumerate"
    name_sweep = "name-sweep"
    postcode_sweep = "postcode-sweep"
    slow_harvest = "slow-harvest"
    multi_account = "multi-account"


_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


def _audit_table(report: Any, console: Console) -> None:
    table = Table(title="strongroom audit", show_lines=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("location", overflow="fold")
    table.add_column("finding", overflow="fold")
    table.add_column("fix", overflow="fold")
    for f in report.findings:
        sev = f.severity.label
        table.add_row(f"[{_STYLE[sev]}]{sev}[/]", f"{f.rule_id}\n{f.rule_name}",
                      str(f.location), f.message, f.fix)
    console.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items())
    console.print(f"{len(report.findings)} findings: {counts}")


def audit_command(
    policy: Annotated[Path, typer.Option("--policy", help="policy YAML file")],
    openapi: Annotated[str, typer.Option("--openapi",
                                         help="OpenAPI document: a file or a loopback URL")],
    deployment: Annotated[Path | None, typer.Option(
        "--deployment", help="deployment.yaml (token lifetimes, OAuth clients)")] = None,
    format_: Annotated[AuditFormat, typer.Option("--format", help="output format")]
    = AuditFormat.table,
    fail_on: Annotated[FailOn, typer.Option("--fail-on",
                                            help="exit 1 at or above this severity")]
    = FailOn.high,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="write the report to this file")] = None,
    allow_remote: Annotated[bool, typer.Option(
        "--allow-remote", help="allow fetching --openapi from a non-loopback host")] = False,
) -> None:
    """Static audit of a policy and an OpenAPI document: findings with severity, location
    and fix, as a table, JSON or SARIF 2.1.0."""
    from strongroom.policy import PolicyError
    from strongroom.posture import Severity, load_audit_input, run_audit, to_sarif

    with cli_errors():
        try:
            audit = load_audit_input(str(policy), openapi,
                                     deployment=str(deployment) if deployment else None,
                                     allow_remote=allow_remote)
        except PolicyError as exc:  # the deployment file: every located problem
            for problem in exc.problems:
                err_console.print(str(problem), highlight=False)
            raise typer.Exit(2) from None
        report = run_audit(audit)
    if format_ is AuditFormat.json:
        _emit(json.dumps(report.to_dict(), indent=2), output)
    elif format_ is AuditFormat.sarif:
        _emit(json.dumps(to_sarif(report), indent=2), output)
    elif output is None:
        _audit_table(report, Console())
    else:
        with output.open("w", encoding="utf-8") as fh:
            _audit_table(report, Console(file=fh, width=160, color_system=None))
    if report.failed(Severity.parse(fail_on.value)):
        raise typer.Exit(1)
