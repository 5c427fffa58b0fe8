"""`strongroom policy check FILE` and `strongroom policy matrix [FILE]`: a thin adapter over
`strongroom.policy` (loading, checking, the matrix). Without FILE, `matrix` reads the
home's policy (STRONGROOM_HOME's policy.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from strongroom.config import Home
from strongroom.policy import PolicyError, load_policy
from strongroom.policy import matrix as policy_matrix

policy_app = typer.Typer(help="Check a policy file; print who sees what.", no_args_is_help=True)


def _load(file: Path):  # noqa: ANN202 - Policy, imported lazily by the caller's types
    try:
        return load_policy(file)
    except PolicyError as exc:
        for problem in exc.problems:
            typer.echo(str(problem))
        raise typer.Exit(1) from exc


@policy_app.command()
def check(file: Annotated[Path, typer.Argument(help="policy YAML file")]) -> None:
    """Validate a policy file: exit 0 and 'ok: ...', or exit 1 and one line per problem
    (file:line:col: message)."""
    policy = _load(file)
    typer.echo(
        f"ok: {file}: {len(policy.roles)} roles, {len(policy.purposes)} purposes, "
        f"{len(policy.field_names())} fields, {len(policy.endpoints)} endpoints, "
        f"{len(policy.budgets)} budgets"
    )


@policy_app.command()
def matrix(
    file: Annotated[
        Path | None,
        typer.Argument(help="policy YAML file [default: the home's policy.yaml]"),
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown, not a table")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file")
    ] = None,
) -> None:
    """Print the role x purpose x field matrix of FILE, or of the home's policy."""
    if file is None:
        file = Home.from_env().policy_path
        if not file.is_file():
            typer.echo(
                f"error: no policy at {file}: run `strongroom init` (STRONGROOM_HOME names "
                "the home) or name a policy FILE",
                err=True,
            )
            raise typer.Exit(2)
    policy = _load(file)
    if markdown:
        text = policy_matrix.render_markdown(policy, source=str(file))
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
        return
    table = Table(title=f"policy matrix: {file}", show_lines=False)
    table.add_column("field", no_wrap=True)
    for role, purpose in policy_matrix.columns(policy):
        table.add_column(f"{role}\n{purpose}", overflow="fold", min_width=10)
    styles = {"reveal": "red", "partial": "yellow", "generalize": "cyan", "pseudonym": "magenta"}
    for name, cells in policy_matrix.rows(policy):
        table.add_row(name, *(f"[{styles[c]}]{c}[/]" if c in styles else c for c in cells))
    if output is None:
        Console(width=max(120, 14 * (len(table.columns) + 1))).print(table)
    else:
        with output.open("w", encoding="utf-8") as fh:
            Console(file=fh, width=200, color_system=None).print(table)
