"""`strongroom audit`, `strongroom drill` and `strongroom drill known`: thin adapters over
`strongroom.posture`.

Plain functions (`audit_command`, `drill_command`, `drill_known_command`): the main app
registers `app.command("audit")(audit_command)` and `drill_app` (the drill itself when no
subcommand is named, `known` its known-list builder). Exit codes follow cli/common.py: 0
clean, 1 findings at or above --fail-on (audit) or records leaked beyond --fail-above
(drill), 2 usage or configuration error.
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
    dealer = "dealer"
    dealer_ledger = "dealer-ledger"
    dealer_permits = "dealer-permits"
    dealer_buyers = "dealer-buyers"
    police_search = "police-search"
    prefecture_reads = "prefecture-reads"
    owner = "owner"
    auditor = "auditor"
    admin = "admin"
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
        table.add_row(
            f"[{_STYLE[sev]}]{sev}[/]",
            f"{f.rule_id}\n{f.rule_name}",
            str(f.location),
            f.message,
            f.fix,
        )
    console.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items())
    console.print(f"{len(report.findings)} findings: {counts}")


def audit_command(
    policy: Annotated[Path, typer.Option("--policy", help="policy YAML file")],
    openapi: Annotated[
        str, typer.Option("--openapi", help="OpenAPI document: a file or a loopback URL")
    ],
    deployment: Annotated[
        Path | None,
        typer.Option("--deployment", help="deployment.yaml (token lifetimes, OAuth clients)"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="a home's config.toml (mode, where the vault keys are)"),
    ] = None,
    format_: Annotated[
        AuditFormat, typer.Option("--format", help="output format")
    ] = AuditFormat.table,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="exit 1 at or above this severity")
    ] = FailOn.high,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the report to this file")
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="allow fetching --openapi from a non-loopback host"),
    ] = False,
) -> None:
    """Static audit of a policy and an OpenAPI document: findings with severity, location
    and fix, as a table, JSON or SARIF 2.1.0."""
    from strongroom.policy import PolicyError
    from strongroom.posture import Severity, load_audit_input, run_audit, to_sarif

    with cli_errors():
        try:
            audit = load_audit_input(
                str(policy),
                openapi,
                deployment=str(deployment) if deployment else None,
                config=str(config) if config else None,
                allow_remote=allow_remote,
            )
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


def _drill_table(report: Any, console: Console, title: str) -> None:
    table = Table(title=f"{title}: {report.strategy} against {report.url}")
    table.add_column("account")
    table.add_column("requests", justify="right")
    table.add_column("records", justify="right")
    table.add_column("stopped by")
    table.add_column("after", justify="right")
    for a in report.accounts:
        s = a.stop
        by = f"{s.layer}: {s.name} ({s.status} {s.outcome})" if s else "[red]not stopped[/]"
        after = f"{s.after_requests} req, {s.after_seconds:.1f} s" if s else "-"
        table.add_row(a.label, str(a.requests), str(a.records), by, after)
    console.print(table)
    console.print(
        f"{report.requests} requests, {report.records} records, "
        f"{report.subjects} distinct subjects in {report.seconds:.1f} s; "
        f"ended by {report.ended_by}; statuses {report.statuses}"
    )


def _comparison(report: Any, console: Console) -> None:
    c = report.comparison()
    if c is None:
        return
    share = "" if c["prevented_share"] is None else f" ({100 * c['prevented_share']:.0f} %)"
    console.print(
        f"records with defences: [bold]{c['records_with_defences']}[/]; without (budgets "
        f"and detectors off): [bold]{c['records_without_defences']}[/]; prevented "
        f"{c['prevented']}{share}"
    )


def drill_command(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", help="base URL of the running deployment")
    ] = None,
    strategy: Annotated[Strategy | None, typer.Option("--strategy", help="attack to play")] = None,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            help="access token (repeat: tokens of one principal are its tokens for their "
            "purposes; of several principals, the accounts of multi-account)",
        ),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="service account (client credentials, private_key_jwt)"),
    ] = None,
    client_key: Annotated[
        Path | None, typer.Option("--client-key", help="the service account's private JWK file")
    ] = None,
    known: Annotated[
        Path | None,
        typer.Option(
            "--known",
            help="CSV of what the attacker already holds (family_name, birth_date, "
            "birth_year, permit_number, departement, serial: any of them)",
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="also run against a copy of STRONGROOM_HOME served with budgets and "
            "detectors off, and compare",
        ),
    ] = False,
    baseline_url: Annotated[
        str | None,
        typer.Option("--baseline-url", help="a running baseline deployment to compare with"),
    ] = None,
    max_requests: Annotated[int, typer.Option("--max-requests", min=1)] = 200,
    max_seconds: Annotated[float, typer.Option("--max-seconds", min=0.1)] = 60.0,
    pace: Annotated[
        float, typer.Option("--pace", min=0.0, help="seconds between requests (slow-harvest)")
    ] = 0.0,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote", help="allow a non-loopback target you are authorized to test"
        ),
    ] = False,
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", help="a host name to allow besides loopback (repeatable)"),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="random seed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    fail_above: Annotated[
        int | None,
        typer.Option(
            "--fail-above",
            help="exit 1 if more records than this leaked; with a baseline, also if the "
            "baseline got no more than this (a check that cannot fail proves nothing)",
        ),
    ] = None,
) -> None:
    """Play an attacker against a running deployment (loopback only unless --allow-remote)
    and report records obtained, requests made, and which layer stopped it; with
    --baseline, the same against the deployment without budgets and detectors.
    `strongroom drill known` writes a known list from a seeded home."""
    if ctx.invoked_subcommand is not None:
        return
    if url is None or strategy is None:
        err_console.print("[red]error:[/red] the drill needs --url and --strategy")
        raise typer.Exit(2)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from strongroom.cli.common import home
    from strongroom.posture.drill import DrillConfig, run_drill
    from strongroom.posture.drill_client import ClientKey
    from strongroom.posture.drill_knowledge import load_known

    pace = pace if pace > 0 or strategy is not Strategy.slow_harvest else 1.0
    config = DrillConfig(
        url=url,
        strategy=strategy.value,
        max_requests=max_requests,
        max_seconds=max_seconds,
        pace=pace,
        allow_remote=allow_remote,
        allow_hosts=tuple(allow_host or ()),
        seed=seed,
        baseline_url=baseline_url,
    )
    with cli_errors():
        if (client_id is None) != (client_key is None):
            err_console.print("[red]error:[/red] --client-id and --client-key go together")
            raise typer.Exit(2)
        keys = [ClientKey.from_file(client_id, client_key)] if client_id and client_key else []
        rows = load_known(known) if known is not None else []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[records]} records"),
            console=err_console,
            transient=True,
            disable=as_json or not err_console.is_terminal,
        ) as bar:
            task = bar.add_task(f"drill {strategy.value}", total=max_requests, records=0)

            def tick(r: Any) -> None:
                bar.update(task, completed=r.requests, records=r.records)

            report = run_drill(
                config,
                tokens=token or [],
                client_keys=keys,
                known=rows,
                baseline_home=home() if baseline else None,
                progress=tick,
            )
    out = Console()
    if as_json:
        doc = report.to_dict()
        if fail_above is not None:
            doc["check"] = report.check(fail_above)
        typer.echo(json.dumps(doc, indent=2))
    else:
        _drill_table(report, out, "strongroom drill")
        if report.baseline is not None:
            _drill_table(report.baseline, out, "baseline (budgets and detectors off)")
            _comparison(report, out)
    if fail_above is None:
        return
    check = report.check(fail_above)
    if not check["passed"]:
        err_console.print(f"{report.records} records obtained: more than {fail_above}")
        raise typer.Exit(1)
    if check["can_fail"] is False:
        err_console.print(
            f"the check cannot fail here: without budgets and detectors the strategy "
            f"obtained {check['baseline_records']} records, no more than {fail_above}"
        )
        raise typer.Exit(1)


def drill_known_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="the CSV file to write")],
    persons: Annotated[int, typer.Option("--persons", min=1, help="persons in the leak")],
    seed: Annotated[int, typer.Option("--seed", help="random seed of the sample")] = 1,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="comma-separated, a leak's richness: family_name, birth_date, birth_year, "
            "permit_number, departement, serial [default: family_name, birth_date, "
            "permit_number, departement]",
        ),
    ] = None,
    home_path: Annotated[
        Path | None, typer.Option("--home", help="the home to sample (default STRONGROOM_HOME)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="sample a production home (needs --reason)")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="why a production home is sampled")
    ] = None,
) -> None:
    """Write the drill's known list (--known) from a seeded home: PERSONS persons sampled
    from its registry with the chosen columns, as an earlier leak would hold them.
    Journaled; a production home is refused unless --force with --reason."""
    from strongroom.compose import compose
    from strongroom.config import Home
    from strongroom.posture.drill_knowledge import write_known
    from strongroom.posture.drill_leak import DEFAULT_COLUMNS, check_columns, sample_known

    with cli_errors():
        given = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        wanted = check_columns(given or DEFAULT_COLUMNS)
        if force and not reason:
            err_console.print("[red]error:[/red] --force needs --reason")
            raise typer.Exit(2)
        svc = compose(Home(home_path) if home_path is not None else Home.from_env())
        try:
            rows = sample_known(
                svc,
                persons=persons,
                seed=seed,
                columns=wanted,
                force_reason=reason if force else None,
            )
        finally:
            svc.close()
        write_known(output, rows, columns=wanted)
    err_console.print(f"{len(rows)} persons ({', '.join(wanted)}) written to {output}")


drill_app = typer.Typer(
    help="Play an attacker against a running deployment; `known` builds its known list.",
    invoke_without_command=True,
    no_args_is_help=False,
)
drill_app.callback(invoke_without_command=True)(drill_command)
drill_app.command("known")(drill_known_command)
