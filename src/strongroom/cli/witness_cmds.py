"""`strongroom witness ...`: a witness of our own, for deployments that have none. It runs
from its own home (--home, never STRONGROOM_HOME: a witness on the registry's machine with
the registry's keys would witness nothing) with its own key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors

witness_app = typer.Typer(help="A C2SP tlog-witness of our own.", no_args_is_help=True)

HomeOption = Annotated[Path, typer.Option("--home", help="the witness's own home folder")]


@witness_app.command("init")
def init(
    home: HomeOption,
    name: Annotated[str, typer.Option(help="the witness's key name, e.g. witness.example/w1")],
    log_key: Annotated[
        list[str],
        typer.Option(
            "--log-key",
            help="a log's checkpoint verifier key (`strongroom journal init-key` prints it; "
            "its name is the log's origin). Repeat for several logs.",
        ),
    ],
) -> None:
    """Create a witness home: its key, and the logs it witnesses."""
    from strongroom.witness.state import init_home

    with cli_errors():
        cosigner = init_home(home, name, log_key)
    vkey = cosigner.verifier().verifier_key
    typer.echo(vkey)
    typer.echo(
        "add to each log's config.toml, with the URL the witness is served at:\n"
        f'  witnesses = ["http://HOST:PORT {vkey}"]',
        err=True,
    )


@witness_app.command("add-log")
def add_log(
    home: HomeOption,
    log_key: Annotated[str, typer.Option("--log-key", help="the log's checkpoint verifier key")],
) -> None:
    """Witness one more log (restart `witness serve` to take it on)."""
    from strongroom.witness.state import add_log as add

    with cli_errors():
        verifier = add(home, log_key)
    typer.echo(f"now witnessing {verifier.name}")


@witness_app.command("serve")
def serve(
    home: HomeOption,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 7380,
) -> None:
    """Serve the witness: POST /add-checkpoint, GET /checkpoint/<origin>."""
    import uvicorn

    from strongroom.witness.app import create_witness_app
    from strongroom.witness.state import load_config, load_cosigner

    with cli_errors():
        config = load_config(home)
        cosigner = load_cosigner(home)
        if not config.logs:
            typer.echo(f"warning: {home} witnesses no log yet", err=True)
    app = create_witness_app(config, cosigner, home)
    # One process: the record of each log's size is checked and replaced under one lock.
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
