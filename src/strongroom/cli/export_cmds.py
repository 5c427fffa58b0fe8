"""`strongroom export ...`: governed exports from the command line.

The CLI acts locally: `--as PRINCIPAL` names the staff principal a step is taken for
(its role and département come from the registry, its scopes from the policy), and
without it the local operator (admin) acts. Every step still goes through the gate and
its journal, exactly as over HTTP.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli.common import acting as _caller
from strongroom.cli.common import cli_errors, console, open_service
from strongroom.errors import BadRequest

export_app = typer.Typer(
    help="Governed exports: request, approve, download, trace.", no_args_is_help=True
)

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="act as this staff principal (default: the local operator)"),
]


def _show(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(body, indent=2, default=str))
        return
    for key in ("id", "dataset", "status", "fields", "requester", "decided_by", "rows"):
        if body.get(key) is not None:
            console.print(f"{key:>11}: {body[key]}", highlight=False)


@export_app.command("request")
def request(
    principal: Annotated[str, typer.Option("--as", help="the requesting principal")],
    dataset: Annotated[str, typer.Option(help="a dataset named in the policy's exports")],
    field: Annotated[list[str], typer.Option("--field", help="a field wanted (repeat)")],
    justification: Annotated[str, typer.Option(help="why (kept with the request)")],
    case: Annotated[str, typer.Option(help="the case reference")],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl")] = "csv",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Request an export; it waits for a second person's approval."""
    with cli_errors(), open_service() as svc:
        who = _caller(svc, principal, case=case, justification=justification)
        body = svc.exports.request(
            who, dataset=dataset, fields=field, justification=justification, fmt=fmt
        ).body
    _show(body, as_json)


@export_app.command("approve")
def approve(
    export_id: str,
    principal: AsOption = None,
    note: Annotated[str, typer.Option(help="a note kept with the decision")] = "",
) -> None:
    """Approve a pending export (never your own)."""
    with cli_errors(), open_service() as svc:
        body = svc.exports.approve(_caller(svc, principal), export_id, note).body
    _show(body, False)


@export_app.command("reject")
def reject(
    export_id: str,
    note: Annotated[str, typer.Option(help="why it is rejected")],
    principal: AsOption = None,
) -> None:
    """Reject a pending export."""
    with cli_errors(), open_service() as svc:
        body = svc.exports.reject(_caller(svc, principal), export_id, note).body
    _show(body, False)


@export_app.command("list")
def list_(
    principal: AsOption = None,
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    case: Annotated[str | None, typer.Option(help="case (requesters)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """A requester's own exports (--as), or the approvers' queue (operator)."""
    from rich.table import Table

    with cli_errors(), open_service() as svc:
        who = _caller(svc, principal, case=case, justification="listing my exports")
        desk = svc.exports
        items = (
            desk.queue(who, status)
            if principal is None or who.role == "admin"
            else desk.list_own(who, status)
        ).body["items"]
    if as_json:
        typer.echo(json.dumps(items, indent=2, default=str))
        return
    table = Table("id", "dataset", "status", "requester", "decided by", "rows")
    for i in items:
        table.add_row(
            i["id"],
            i["dataset"],
            i["status"],
            i["requester"],
            i["decided_by"] or "",
            str(i["rows"] or ""),
        )
    console.print(table)


@export_app.command("download")
def download(
    export_id: str,
    principal: Annotated[str, typer.Option("--as", help="the requesting principal")],
    case: Annotated[str, typer.Option(help="the case reference")],
    out: Annotated[Path, typer.Option(help="where to write the file (must not exist)")],
) -> None:
    """Generate (with a progress bar) and fetch an approved export, once."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with cli_errors():
        try:
            # The path is taken first: a download happens once, and must land somewhere.
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise BadRequest(f"{out} exists; choose a new path") from exc
        try:
            with open_service() as svc, os.fdopen(fd, "wb") as f:
                who = _caller(
                    svc, principal, case=case, justification="downloading my approved export"
                )
                with Progress(
                    "[progress.description]{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                ) as bar:
                    task = bar.add_task("generating", total=None)

                    def progress(done: int, total: int | None) -> None:
                        bar.update(task, completed=done, total=total)

                    _, dl = svc.exports.download(who, export_id, progress)
                for chunk in dl.chunks():
                    f.write(chunk)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    console.print(f"{dl.rows:,} rows written to {out} (sha-256 {dl.sha256})", highlight=False)


@export_app.command("trace")
def trace(
    file: Annotated[Path, typer.Argument(help="a leaked file or fragment")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Name the export(s) a file or fragment came from, with requester and approver."""
    with cli_errors(), open_service() as svc:
        if not file.is_file():
            raise BadRequest(f"no such file {file}")
        with file.open(encoding="utf-8", errors="replace") as lines:
            hits = svc.exports.trace(svc.admin.operator(), lines)
    if as_json:
        typer.echo(json.dumps(hits, indent=2, default=str))
    elif not hits:
        console.print("no export matches this file")
    for h in hits if not as_json else []:
        ev = h["evidence"]
        console.print(
            f"export {h['id']} ({h['dataset']}): requested by {h['requester']}, "
            f"approved by {h['decided_by']}; {ev['canary_lines']} canary rows, "
            f"{ev['fingerprint_lines']} fingerprinted rows "
            f"({ev['fingerprint_bits']} bits)",
            highlight=False,
        )
    raise typer.Exit(0 if hits else 1)
