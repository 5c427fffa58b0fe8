"""`strongroom simulate`: a thin adapter over `strongroom.simulate`.

A plain function (`simulate_command`), registered by the main app with
`app.command("simulate")(simulate_command)`; `simulate_app` wraps it for `add_typer`.
Exit codes follow cli/common.py: 0 done, 1 a target missed under --strict, 2 usage error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from strongroom.cli.common import cli_errors, console, err_console


def _table(report: dict[str, Any], out: Console) -> None:
    table = Table(title="strongroom simulate: attack scenarios")
    for col in (
        "scenario",
        "records leaked",
        "contained",
        "after (sim s)",
        "stopped by",
        "target",
        "met",
    ):
        table.add_column(col, overflow="fold", no_wrap=col == "scenario")
    for r in report["scenarios"]:
        layer = r["stopped_by"]
        how = layer["layer"]
        if how == "containment":
            how = f"{layer['action']} ({'+'.join(layer['families']) or '-'})"
        elif "name" in layer:
            how = f"{how}: {layer['name']}"
        target = r["target"]["records"]
        met = r["target"]["met"]
        table.add_row(
            r["scenario"],
            f"{r['records_leaked']:,}",
            "yes" if r["contained"] else "no",
            "" if r["time_to_containment_s"] is None else f"{r['time_to_containment_s']:,.0f}",
            how,
            "first canary"
            if target is None and "canary" in r
            else "-"
            if target is None
            else f"<= {target:,}",
            "-" if met is None else "[green]yes[/green]" if met else "[red]no[/red]",
        )
    out.print(table)
    legit = report["legitimate"]
    out.print(
        f"legitimate: {legit['users']:,} users, {legit['user_days']:,} user-days, "
        f"{legit['requests']:,} requests; wrongful suspensions "
        f"{legit['wrongful_suspensions']['per_10k_user_days']} / 10k user-days; throttled "
        f"{legit['throttled']['per_10k_user_days']} / 10k user-days, contained "
        f"{legit['contained']['per_10k_user_days']} / 10k user-days, step-up on "
        f"{100 * legit['step_up']['share_of_user_days']:.2f} % of user-days"
    )
    _roles(legit, out)
    run = report["run"]
    out.print(
        f"{run['requests']:,} gate requests over {run['simulated_days']} simulated "
        f"days in {run['wall_seconds']} s ({run['requests_per_second']} req/s)"
    )
    missed = report["summary"]["missed"]
    if missed:
        out.print(f"[red]targets missed:[/red] {', '.join(missed)}")


def _roles(legit: dict[str, Any], out: Console) -> None:
    """Per role: wrongful suspensions (user-days, and per 10k user-days), and the links
    its users made that waited for a second agent: approved after (median/max minutes),
    or still waiting at the end."""
    table = Table(title="legitimate users by role (wrongful suspensions, four eyes)")
    for col in (
        "role",
        "days",
        "suspended",
        "/10k",
        "links",
        "waited",
        "approved",
        "minutes",
        "waiting",
    ):
        table.add_column(col, overflow="fold", no_wrap=col == "role")
    for role, r in legit["by_role"].items():
        fe = r["four_eyes"]
        table.add_row(
            role,
            f"{r['user_days']:,}",
            f"{r['wrongful_suspensions']['user_days']:,}",
            f"{r['wrongful_suspensions']['per_10k_user_days']}",
            f"{fe['links']:,}",
            f"{fe['waited']:,}",
            f"{fe['approved']:,}",
            f"{fe['median_wait_minutes']}/{fe['max_wait_minutes']}" if fe["approved"] else "-",
            f"{fe['still_waiting']:,}",
        )
    out.print(table)


def simulate_command(
    persons: Annotated[int, typer.Option(min=100, help="persons to seed")] = 20_000,
    users: Annotated[int, typer.Option(min=0, help="legitimate users")] = 500,
    days: Annotated[int, typer.Option(min=1, help="simulated days of legitimate work")] = 7,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="attack scenario (repeat; default: all)")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed (deterministic)")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report")] = False,
    output: Annotated[Path | None, typer.Option(help="write the JSON report here")] = None,
    policy: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="simulate under this policy file"),
    ] = None,
    use_home: Annotated[
        bool,
        typer.Option(
            "--home",
            help="simulate on STRONGROOM_HOME in place (adds principals and journal "
            "entries) instead of a fresh seeded home",
        ),
    ] = False,
    registry_seed: Annotated[
        int | None, typer.Option(help="with --home: the seed its registry was seeded with")
    ] = None,
    dealer_ledger: Annotated[
        bool, typer.Option(help="legitimate dealers read their sales ledger now and then")
    ] = True,
    exports: Annotated[
        bool,
        typer.Option(
            help="legitimate prefecture agents work from their département's renewal list "
            "(an approved export) now and then, a few of its persons joining their caseload"
        ),
    ] = True,
    strict: Annotated[bool, typer.Option(help="exit 1 when a target is missed")] = False,
) -> None:
    """Drive the real gate on a simulated clock: a legitimate population and attack
    scenarios; report what leaked before containment and who was wrongly stopped."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from strongroom.cli.common import home
    from strongroom.simulate import SCENARIOS, SimConfig, run_simulation

    with cli_errors():
        config = SimConfig(
            persons=persons,
            users=users,
            days=days,
            scenarios=tuple(scenario) if scenario else tuple(SCENARIOS),
            seed=seed,
            policy=policy,
            home=home().path if use_home else None,
            registry_seed=registry_seed,
            dealer_ledger=dealer_ledger,
            exports=exports,
        )
        config.check()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}% of simulated time"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        ) as bar:
            task = bar.add_task("setting up", total=1.0)

            def progress(phase: str, done: float, total: float) -> None:
                bar.update(task, description=phase, completed=done / total if total else 0)

            report = run_simulation(config, progress=progress)
    text = json.dumps(report, indent=2)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    if as_json:
        typer.echo(text)
    else:
        _table(report, console)
    if strict and report["summary"]["missed"]:
        raise typer.Exit(1)


simulate_app = typer.Typer(help="Simulate a population and attacks against the gate.")
simulate_app.callback(invoke_without_command=True)(simulate_command)
