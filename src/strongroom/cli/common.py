"""What every CLI command shares: the home folder, clear errors, exit codes.

Exit codes: 0 success, 1 the check or operation found a problem, 2 usage or configuration
error (no home, bad URL, invalid input). No command prints a traceback for an expected error.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from strongroom.config import Home
from strongroom.errors import BadRequest, StrongroomError

if TYPE_CHECKING:
    from strongroom.compose import Service
    from strongroom.context import Caller

err_console = Console(stderr=True)
console = Console()


def home() -> Home:
    return Home.from_env()


@contextlib.contextmanager
def counting(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A progress bar (done of total, time left) for long work; yields the callback the
    work reports to, `advance(done)` or `advance(done, total)` once the total is known."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(done: int, total: int | None = None) -> None:
            if total is None:
                bar.update(task, completed=done)
            else:
                bar.update(task, completed=done, total=total)

        yield advance


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    try:
        yield
    except StrongroomError as exc:
        err_console.print(f"[red]error:[/red] {exc.detail}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None
    except OSError as exc:
        # A home, key file or output path the operator named that cannot be written or
        # read: the path and the system's reason, not a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or type(exc).__name__
        err_console.print(f"[red]error:[/red] {where}{reason}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def open_service() -> Iterator[Service]:
    from strongroom.compose import compose

    svc = compose(home())
    try:
        yield svc
    finally:
        svc.close()


def is_tty() -> bool:
    return sys.stdout.isatty()


def acting(
    svc: Any, principal: str | None, *, case: str | None = None, justification: str | None = None
) -> Caller:
    """Who a step is taken for: the staff principal named by `--as` (its role and
    département from the registry, its scopes from the policy), or the local operator."""
    from strongroom.context import Caller

    if principal is None:
        return svc.admin.operator()  # type: ignore[no-any-return]
    with svc.registry.session() as s:
        row = svc.registry.principal(s, principal)
    if row is None or row.status != "active":
        raise BadRequest(f"no active principal {principal}")
    role = svc.policy.role(row.role)
    return Caller(
        principal_id=row.public_id,
        role=row.role,
        scopes=frozenset(role.scopes),
        purpose=role.default_purpose,
        case=case,
        justification=justification,
        departement=row.departement,
        dealer_id=row.dealer_public_id,
        client_id="strongroom-cli",
    )
