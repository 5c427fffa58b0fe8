"""What every CLI command shares: the home folder, clear errors, exit codes.

Exit codes: 0 success, 1 the check or operation found a problem, 2 usage or configuration
error (no home, bad URL, invalid input). No command prints a traceback for an expected error.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from strongroom.config import Home
from strongroom.errors import StrongroomError

if TYPE_CHECKING:
    from strongroom.compose import Service

err_console = Console(stderr=True)
console = Console()


def home() -> Home:
    return Home.from_env()


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
