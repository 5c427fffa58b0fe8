"""`strongroom keys ...`: the vault's key-encryption keys and blind-index key (status,
online rotation)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from strongroom.cli.common import cli_errors, console, counting, err_console, open_service

keys_app = typer.Typer(
    help="The vault's key-encryption keys and blind-index key: status, rotation.",
    no_args_is_help=True,
)


@keys_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Each store's KEK versions and how many data keys each wraps; the blind-index key's
    versions, their states and the rows under each (a rotation's progress). Journaled."""
    from rich.table import Table

    with cli_errors(), open_service() as svc:
        rows = svc.admin.key_status()
        index = svc.admin.blind_index_status()
        provider = type(svc.keys).__name__
    if as_json:
        typer.echo(
            json.dumps({"provider": provider, "stores": rows, "blind_index": index}, indent=2)
        )
        return
    table = Table("store", "current", "version: data keys", title=f"KEKs ({provider})")
    for r in rows:
        usage = ", ".join(f"v{v}: {n}" for v, n in r["versions"].items())
        table.add_row(r["store"], f"v{r['current']}", usage)
    console.print(table)
    versions = Table("version", "state", *index["rows"], title="blind-index key")
    for v in index["versions"]:
        counts = [str(c.get(str(v["version"]), 0)) for c in index["rows"].values()]
        versions.add_row(f"v{v['version']}", v["state"], *counts)
    console.print(versions)
    if index["indexing"] is not None:
        p = index["progress"]
        typer.echo(
            f"re-indexing under v{index['indexing']}: {p['done']} of {p['total']} rows "
            "(run `strongroom keys rotate --blind-index` to resume an interrupted rotation)"
        )


@keys_app.command("rotate")
def rotate(
    store: Annotated[str | None, typer.Option(help="identity, address or asset")] = None,
    blind_index: Annotated[
        bool,
        typer.Option(
            "--blind-index",
            help="rotate the blind-index key instead: re-index every row under a new "
            "version online, then retire the old one",
        ),
    ] = False,
    why: Annotated[str, typer.Option(help="reason, journaled")] = "rotated by CLI",
    retire: Annotated[
        bool, typer.Option(help="then drop the KEK versions no data key needs any more")
    ] = False,
    keep_previous: Annotated[
        bool,
        typer.Option(
            help="with --retire, keep the version just replaced: backups taken since the "
            "last rotation need it (the erasure schedule, docs/keys.md)"
        ),
    ] = False,
) -> None:
    """Mint a new KEK version for a store and re-wrap its data keys under it, or (with
    --blind-index) a new blind-index key version and re-index every row under it, online:
    servers keep answering throughout. Journaled. Run again to resume an interrupted one."""
    from strongroom.vault import STORES

    if blind_index:
        if store is not None:
            err_console.print("[red]error:[/red] give --store or --blind-index, not both")
            raise typer.Exit(2)
        with cli_errors(), open_service() as svc:
            with counting("re-indexing blind indexes") as advance:
                done = svc.admin.rotate_blind_index(why, progress=advance)
        retired = ", ".join(f"v{v}" for v in done["retired"]) or "none"
        typer.echo(
            f"blind index: key v{done['version']} current, {done['reindexed']} rows "
            f"re-indexed; retired: {retired}"
        )
        return
    if store is None:
        err_console.print("[red]error:[/red] give --store identity|address|asset or --blind-index")
        raise typer.Exit(2)
    if store not in STORES:
        err_console.print(
            f"[red]error:[/red] unknown key store {store!r}: one of {', '.join(STORES)}"
        )
        raise typer.Exit(2)
    with cli_errors(), open_service() as svc:
        with counting(f"re-wrapping {store} data keys") as advance:
            out = svc.admin.rotate_keys(
                store, why, retire=retire, keep_previous=keep_previous, progress=advance
            )
    retired = ", ".join(f"v{v}" for v in out["retired"]) or "none"
    typer.echo(
        f"{store}: KEK v{out['kek_version']} current, {out['rewrapped']} data keys "
        f"re-wrapped; retired: {retired}"
    )


@keys_app.command("isolate")
def isolate(
    why: Annotated[str, typer.Option(help="reason, journaled")] = "per-person keys",
) -> None:
    """Re-encrypt every person still under shared data keys under keys of their own, so
    that `strongroom person erase` can destroy them. Online and resumable. Journaled."""
    with cli_errors(), open_service() as svc:
        with counting("re-encrypting persons") as advance:
            out = svc.admin.isolate_persons(why, progress=advance)
    typer.echo(f"{out['isolated']} of {out['persons']} persons moved to keys of their own")
