"""`strongroom person ...`: a data subject's rights the operator carries out (erasure)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors, open_service

person_app = typer.Typer(help="Data subjects: erasure (crypto-shredding).", no_args_is_help=True)


@person_app.command("erase")
def erase(
    person_id: Annotated[str, typer.Argument(help="the person's public ID")],
    reason: Annotated[str, typer.Option(help="the legal ground, journaled (no personal data)")],
) -> None:
    """Erase a person (GDPR Art. 17): destroy their data keys, delete their identity and
    address, keep a tombstone. Journaled. Copies of the database taken before stay readable
    for this person until the KEK versions that wrapped the keys are retired: see
    docs/keys.md, "Erasure and backups"."""
    with cli_errors(), open_service() as svc:
        out = svc.admin.erase_person(person_id, reason)
    typer.echo(json.dumps(out, indent=2))
