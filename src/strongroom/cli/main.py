"""The `strongroom` command. All subcommands read STRONGROOM_HOME (default ./.strongroom)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors, console, err_console, home
from strongroom.errors import BadRequest

WORKER_PING_SECONDS = 30  # how long a worker may leave its supervisor's ping unanswered
# An idle keep-alive connection is kept longer than load balancers keep theirs (60 s for
# nginx's upstreams and AWS's ALB): a server closing first races the balancer's next request
# on that connection, which then fails without an answer (a 502 to the client).
KEEP_ALIVE_SECONDS = 75

app = typer.Typer(
    help="Strongroom: a registry that makes bulk extraction hard while it happens and useless "
    "after. Reads STRONGROOM_HOME (default ./.strongroom).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from strongroom.cli.analytics_cmds import analytics_app
    from strongroom.cli.call_cmds import call_command
    from strongroom.cli.case_cmds import case_app
    from strongroom.cli.client_cmds import client_app
    from strongroom.cli.containment_cmds import containment_app
    from strongroom.cli.export_cmds import export_app
    from strongroom.cli.journal_cmds import investigate_app, journal_app
    from strongroom.cli.key_cmds import keys_app
    from strongroom.cli.person_cmds import person_app
    from strongroom.cli.policy_cmds import policy_app
    from strongroom.cli.posture_cmds import audit_command, drill_app
    from strongroom.cli.principal_cmds import principal_app
    from strongroom.cli.simulate_cmds import simulate_command
    from strongroom.cli.token_cmds import token_app
    from strongroom.cli.witness_cmds import witness_app

    app.add_typer(principal_app, name="principal")
    app.add_typer(person_app, name="person")
    app.add_typer(case_app, name="case")
    app.add_typer(token_app, name="token")
    app.add_typer(client_app, name="client")
    app.add_typer(containment_app, name="containment")
    app.add_typer(policy_app, name="policy")
    app.add_typer(journal_app, name="journal")
    app.add_typer(investigate_app, name="investigate")
    app.add_typer(export_app, name="export")
    app.add_typer(analytics_app, name="analytics")
    app.add_typer(keys_app, name="keys")
    app.add_typer(witness_app, name="witness")
    app.command("audit")(audit_command)
    app.add_typer(drill_app, name="drill")
    app.command("simulate")(simulate_command)
    app.command("call")(call_command)


@app.command()
def init(
    database: Annotated[
        str | None, typer.Option(help="registry database URL (default: SQLite in the home)")
    ] = None,
    journal: Annotated[
        str | None, typer.Option(help="journal database URL (default: SQLite in the home)")
    ] = None,
    redis: Annotated[
        str | None, typer.Option(help="Redis URL for budgets shared by several workers")
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(help="demo (unbound tokens allowed) or production (DPoP-bound only)"),
    ] = None,
    key_provider: Annotated[
        str | None,
        typer.Option(help="where the vault keys are: file (keys/vault.json) or pkcs11 (an HSM)"),
    ] = None,
    pkcs11_module: Annotated[
        str | None, typer.Option(help="the HSM's PKCS#11 library (.so)")
    ] = None,
    pkcs11_token_label: Annotated[str | None, typer.Option(help="the HSM token's label")] = None,
    pkcs11_pin_file: Annotated[
        str | None, typer.Option(help="a file (mode 0600, outside the home) holding the PIN")
    ] = None,
    pkcs11_pin_env: Annotated[
        str | None, typer.Option(help="the environment variable holding the PIN")
    ] = None,
    database_password_file: Annotated[
        str | None,
        typer.Option(help="a file holding the registry database's password (a secret)"),
    ] = None,
    database_password_env: Annotated[
        str | None,
        typer.Option(help="the environment variable holding the registry database's password"),
    ] = None,
    journal_password_file: Annotated[
        str | None,
        typer.Option(help="a file holding the journal database's password (a secret)"),
    ] = None,
    journal_password_env: Annotated[
        str | None,
        typer.Option(help="the environment variable holding the journal database's password"),
    ] = None,
) -> None:
    """Create the home folder: config, policy, keys, schemas. Safe to run again."""
    from strongroom.initialize import initialize

    keys = {
        "key_provider": key_provider or "",
        "pkcs11_module": pkcs11_module or "",
        "pkcs11_token_label": pkcs11_token_label or "",
        "pkcs11_pin_file": pkcs11_pin_file or "",
        "pkcs11_pin_env": pkcs11_pin_env or "",
    }
    # Passwords: never in config.toml when one of these names where they are.
    passwords = {
        "registry_password_file": database_password_file or "",
        "registry_password_env": database_password_env or "",
        "journal_password_file": journal_password_file or "",
        "journal_password_env": journal_password_env or "",
    }
    with cli_errors():
        h = home()
        settings = initialize(
            h,
            registry_url=database,
            journal_url=journal,
            redis_url=redis,
            mode=mode,
            keys=keys,
            passwords=passwords,
        )
    console.print(f"home ready at {h.path}")
    console.print(f"  registry: {_redact(settings.registry_url)}")
    console.print(f"  journal:  {_redact(settings.journal_url)}")
    console.print(f"  mode:     {settings.mode}")
    where = settings.key_provider
    if where == "pkcs11":
        where += f" (token {settings.pkcs11_token_label!r})"
    console.print(f"  keys:     {where}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return "<unparseable URL>"


@app.command()
def seed(
    persons: Annotated[int, typer.Option(min=1, help="number of persons")] = 20_000,
    seed_: Annotated[int, typer.Option("--seed", help="random seed (deterministic)")] = 1,
) -> None:
    """Seed a synthetic French registry (owners, permits, weapons, dealers, canaries)."""
    from strongroom.cli.seeding import run_seed

    with cli_errors():
        report = run_seed(home(), persons=persons, seed=seed_)
    console.print(
        f"seeded {report.persons:,} persons in {report.seconds:.1f} s "
        f"({report.persons_per_second:,.0f} persons/s)"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the API (OpenAPI at /docs and /openapi.json)."""
    import uvicorn

    from strongroom.config import Home

    with cli_errors():
        h = home()
        settings = h.settings()  # fail early, with a clear message, when there is no home
        if workers > 1 and not settings.redis_url:
            raise BadRequest(
                "--workers above 1 needs a shared store: budgets and detector state "
                "would split across workers. Set redis_url in "
                f"{h.config_path} (strongroom init --redis redis://host:6379/0)",
                reason="invalid_config",
            )
        from strongroom.policy import load_policy

        load_policy(h.policy_path)  # refuse to start on an invalid policy
    from strongroom.logs import log_config
    from strongroom.metrics import MULTIPROCESS_DIR

    os.environ["STRONGROOM_HOME"] = str(Home.from_env().path)
    public = public_url(host, port)
    if public is None:
        os.environ.pop("STRONGROOM_PUBLIC_URL", None)
    else:
        # Each worker's OAuth endpoints (and the DPoP proofs they accept) name the address
        # it is reached at; `strongroom call` finds it in the home.
        os.environ["STRONGROOM_PUBLIC_URL"] = public
        h.served_path.write_text(json.dumps({"url": public}) + "\n", encoding="utf-8")
    metrics_dir = None
    if workers > 1:
        # Each worker writes its metrics here and a scrape of any worker sums them all. A
        # fresh folder a run: a previous run's files would be counted again.
        metrics_dir = tempfile.mkdtemp(prefix="strongroom-metrics-")
        os.environ[MULTIPROCESS_DIR] = metrics_dir
    try:
        uvicorn.run(
            "strongroom.api.asgi:create",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=log_config(settings.log_format),
            log_level="info",
            # The journal records every request; uvicorn's access log would print request
            # paths, and a path can name a weapon's serial. Observe writes one line a
            # request with the route template instead.
            access_log=False,
            proxy_headers=False,
            # SIGTERM: stop accepting, let requests in flight finish (their journal entries
            # are committed before they answer), then close the service (the journal's
            # queued refusals, its tail signed). A request still running after the grace
            # is cut off (Observe journals it), so the close happens before an
            # orchestrator's SIGKILL: a body that never arrives cannot hold the stop.
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            # A worker answers its supervisor's ping only once it has imported the CLI and
            # uvicorn again (spawned); uvicorn's 5 s killed and replaced workers that were
            # still loading when several started at once on a busy host.
            timeout_worker_healthcheck=WORKER_PING_SECONDS,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def public_url(host: str, port: int) -> str | None:
    """The URL a server listening on HOST:PORT is reached at; None for a wildcard address,
    whose public name only the configured issuer knows."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - compared, never bound here
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@app.command()
def demo(
    persons: Annotated[int, typer.Option(min=100, help="persons to seed on first run")] = 20_000,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="prepare, print, exit")] = False,
) -> None:
    """Initialize, seed, create one principal per role, print tokens and curl examples,
    then serve."""
    from strongroom.cli.demo import prepare_demo

    with cli_errors():
        prepare_demo(home(), persons=persons, base_url=f"http://{host}:{port}")
    if no_serve:
        return
    err_console.print(f"serving on http://{host}:{port} (Ctrl-C to stop)")
    serve(host=host, port=port, workers=1)


_register()

if __name__ == "__main__":  # pragma: no cover
    app()
