"""`strongroom journal ...` and `strongroom investigate ...`: thin adapters over
strongroom.journal. Exit codes: 0 ok, 1 verification failure or an ID the journal has
never seen, 2 usage or configuration error (a clear message on stderr, never a
traceback)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from strongroom.cli.common import counting
from strongroom.clock import SYSTEM_CLOCK
from strongroom.config import Home
from strongroom.errors import StrongroomError
from strongroom.journal import Journal, rfc6962
from strongroom.journal.checkpoint import (
    DEFAULT_ORIGIN,
    SIGNER_FILE,
    VERIFIER_FILE,
    create_checkpoint_key,
    export_checkpoint,
    load_signer,
    load_verifier,
)
from strongroom.journal.investigate import Investigator, breach_markdown
from strongroom.journal.log import b64
from strongroom.journal.witness import (
    WitnessSpec,
    submit_checkpoint,
    verify_with_witnesses,
    witness_specs,
)

journal_app = typer.Typer(help="The tamper-evident access journal.", no_args_is_help=True)
proof_app = typer.Typer(help="Merkle proofs (RFC 6962).", no_args_is_help=True)
journal_app.add_typer(proof_app, name="proof")
investigate_app = typer.Typer(help="Investigations over the journal.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _journal(witnesses: list[WitnessSpec] | None = None) -> Iterator[Journal]:
    """The home's journal; `witnesses`, when given, receives config.toml's witnesses."""
    try:
        home = Home.from_env()
        settings = home.settings()
        url = settings.journal_url
        if witnesses is not None:
            witnesses.extend(witness_specs(settings.witnesses))
        keys = home.keys_dir
        signer = load_signer(keys) if (keys / SIGNER_FILE).is_file() else None
        verifier = load_verifier(keys) if (keys / VERIFIER_FILE).is_file() else None
        journal = Journal.open(url, signer=signer, verifier=verifier, clock=SYSTEM_CLOCK)
    except StrongroomError as exc:
        raise _fail(exc.detail) from None
    try:
        yield journal
    except StrongroomError as exc:
        raise _fail(exc.detail) from None
    except rfc6962.ProofError as exc:
        raise _fail(f"proof does not verify: {exc}", 1) from None
    finally:
        journal.close()


def _when(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"not a time: {value!r} (ISO 8601 or Unix seconds)") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _emit(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


@journal_app.command("init-key")
def init_key(origin: str = typer.Option(DEFAULT_ORIGIN, help="Key name and log origin.")) -> None:
    """Create the checkpoint signing key in the home's keys/ folder."""
    try:
        home = Home.from_env()
        home.ensure_dirs()
        signer = create_checkpoint_key(home.keys_dir, origin)
    except StrongroomError as exc:
        raise _fail(exc.detail) from None
    typer.echo(signer.verifier().verifier_key)


@journal_app.command("verify")
def verify(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
    offline: bool = typer.Option(
        False, "--offline", help="Do not ask the configured witnesses (storage only)."
    ),
) -> None:
    """Recompute the tree from storage; check every checkpoint's signature, root and chain;
    then hold the journal to the latest checkpoint each configured witness cosigned."""
    witnesses: list[WitnessSpec] = []
    with _journal(witnesses) as journal:
        report, notes = verify_with_witnesses(journal, [] if offline else witnesses)
    if as_json:
        _emit({**report.to_dict(), "witnesses": notes})
    else:
        d = report.to_dict()
        typer.echo(
            f"entries: {d['size']}  checkpoints: {d['checkpoints']}  "
            f"signed up to: {d['signed_size']}  unsigned: {d['unsigned_entries']}"
        )
        for line in notes:
            typer.echo(line)
        for p in report.problems:
            where = "" if p.index is None else f" (index {p.index})"
            typer.echo(f"PROBLEM {p.kind}{where}: {p.message}")
        typer.echo("OK" if report.ok else f"FAILED: first bad index {report.first_bad_index}")
    if not report.ok:
        raise typer.Exit(1)


@journal_app.command("reindex")
def reindex() -> None:
    """Build the indexes beside the log (investigations, console alerts and curves) for
    every entry they do not cover yet, with progress: after an upgrade that changed their
    layout (they are emptied when the journal is opened) or a deleted index file. A
    running server's writer does the same in the background, more slowly. The indexes
    are derived from the log; verification never reads them."""

    try:
        home = Home.from_env()
        journal = Journal.open(
            home.settings().journal_url, signer=None, clock=SYSTEM_CLOCK, index_lag=None
        )
    except StrongroomError as exc:
        raise _fail(exc.detail) from None
    try:
        with counting("indexing the journal", journal.size()) as advance:
            advance(journal.indexed_size(), journal.size())
            done = journal.catch_up_index(advance)
        indexed, size = journal.indexed_size(), journal.size()
    except StrongroomError as exc:
        raise _fail(exc.detail) from None
    finally:
        journal.close()
    typer.echo(f"indexed {done} entries: the indexes cover {indexed} of {size}")
    if indexed < size:
        raise _fail("indexing stopped before the end of the log (see the log's warnings)", 1)


@journal_app.command("checkpoint")
def checkpoint(
    export: Path | None = typer.Option(None, help="Also write the signed note to this file."),
    witness: str | None = typer.Option(None, help="Also submit it to this witness URL."),
) -> None:
    """Sign a checkpoint of the journal now, submit it to the configured witnesses (and to
    --witness), and print it with their cosignatures."""
    witnesses: list[WitnessSpec] = []
    failed: list[str] = []
    with _journal(witnesses) as journal:
        if journal.signer is None:
            raise _fail("no checkpoint key: run `strongroom journal init-key` first")
        note = journal.make_checkpoint()
        if export is not None:
            try:
                export_checkpoint(note, export)
            except OSError as exc:
                raise _fail(f"cannot write {export}: {exc.strerror}") from None
        cosignatures = ""
        if witness:
            from strongroom.journal.witness import submit

            cosignatures += submit(journal, witness)
        for w in witnesses:
            try:
                done = submit_checkpoint(journal, w.url, note=note, verifier=w.verifier)
            except StrongroomError as exc:
                failed.append(f"witness {w}: {exc.detail}")
                continue
            cosignatures += done.cosignatures
    typer.echo(note + cosignatures, nl=False)
    for message in failed:
        typer.echo(f"error: {message}", err=True)
    if failed:
        raise typer.Exit(1)


def _proof(make: Callable[[Journal], dict[str, Any]]) -> None:
    with _journal() as journal:
        _emit(make(journal))


@proof_app.command("inclusion")
def proof_inclusion(index: int, size: int = typer.Option(..., "--size")) -> None:
    """Inclusion proof of entry INDEX in the tree of --size entries."""

    def make(j: Journal) -> dict[str, Any]:
        proof = j.inclusion_proof(index, size)
        lh, root = j.leaf_hash(index), j.root(size)
        rfc6962.verify_inclusion(index, size, lh, proof, root)
        return {
            "index": index,
            "size": size,
            "leaf_hash": b64(lh),
            "root": b64(root),
            "proof": [b64(h) for h in proof],
        }

    _proof(make)


@proof_app.command("consistency")
def proof_consistency(size1: int, size2: int) -> None:
    """Consistency proof between trees of SIZE1 and SIZE2 entries."""

    def make(j: Journal) -> dict[str, Any]:
        proof = j.consistency_proof(size1, size2)
        r1, r2 = j.root(size1), j.root(size2)
        rfc6962.verify_consistency(size1, size2, proof, r1, r2)
        return {
            "size1": size1,
            "size2": size2,
            "root1": b64(r1),
            "root2": b64(r2),
            "proof": [b64(h) for h in proof],
        }

    _proof(make)


@investigate_app.command("principal")
def investigate_principal(
    principal: str,
    since: str | None = typer.Option(None),
    until: str | None = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every subject and field category a principal saw, with a timeline."""
    t0, t1 = _when(since), _when(until)
    with _journal() as journal:
        investigator = Investigator(journal)
        rep = investigator.principal_report(principal, t0, t1)
        # Nothing in the window: a known principal who was quiet, or an ID never journaled
        # (a typo, another home's ID). Only the second is an error.
        if rep["entries"] == 0 and (
            (t0 is None and t1 is None) or not investigator.knows_principal(principal)
        ):
            raise _fail(f"the journal has no entry for principal {principal}", 1)
    if as_json:
        _emit(rep)
        return
    typer.echo(
        f"principal {principal}: {rep['entries']} entries, {rep['records']} records, "
        f"{len(rep['subjects'])} subjects"
    )
    for cat, v in rep["categories"].items():
        typer.echo(f"  {cat}: {v['subjects']} subjects, {v['records']} records")
    for slot in rep["timeline"]:
        typer.echo(f"  {slot['start']}  entries {slot['entries']}  records {slot['records']}")


@investigate_app.command("subject")
def investigate_subject(subject: str) -> None:
    """Who saw a data subject's data: which fields, when, for which purpose (JSON)."""
    with _journal() as journal:
        rep = Investigator(journal).subject_report(subject)
    if not rep["accesses"]:
        raise _fail(f"the journal has no entry for subject {subject}", 1)
    _emit(rep)


@investigate_app.command("breach")
def investigate_breach(
    principal: list[str] = typer.Option(..., "--principal", help="Repeat for each account."),
    since: str | None = typer.Option(None),
    until: str | None = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
    markdown: bool = typer.Option(False, "--markdown"),
) -> None:
    """GDPR Art. 33 breach scope for the given principals (Markdown by default)."""
    if as_json and markdown:
        raise _fail("choose one of --json and --markdown")
    t0, t1 = _when(since), _when(until)
    with _journal() as journal:
        rep = Investigator(journal).breach_report(principal, t0, t1)
    if as_json:
        _emit(rep)
    else:
        typer.echo(breach_markdown(rep), nl=False)
