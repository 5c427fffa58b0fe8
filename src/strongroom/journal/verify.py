"""Full verification of a stored journal: recompute the RFC 6962 tree from the entries.

Checks, streaming the entries in index order: indexes are contiguous from 0 (a deleted or
inserted row shows as a gap); each stored leaf hash is SHA-256(0x00 || entry) (an edited
entry); each stored perfect-subtree hash equals the recomputed one (reordered or rewritten
entries); no stored node lies beyond the tree (truncation). Then every stored checkpoint:
its signature (C2SP signed note), its body against its row, its chain to the one before
(a removed checkpoint breaks it), its size within the tree, its root against the
recomputed root at that size, and a consistency proof between consecutive checkpoints.
Last, each checkpoint a witness holds (`witnessed`, fetched and checked by the caller):
the journal must reach its size with its root, and the stored checkpoints must reach it
too. That is what catches an attacker who deleted every checkpoint, or truncated or rolled
back the journal together with its checkpoints: the local evidence agrees with itself,
but no longer with a copy the attacker cannot reach.

`first_bad_index` is the smallest entry index that can no longer be trusted. When an
attacker rewrote entries and every hash above them consistently, only a checkpoint root
catches it, and the first bad index is then the size of the last checkpoint that verified.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from strongroom.errors import Unavailable
from strongroom.journal import rfc6962, store, tables
from strongroom.journal.checkpoint import (
    GENESIS,
    Checkpoint,
    CheckpointError,
    note_digest,
    parse_checkpoint,
)
from strongroom.journal.note import NoteError, NoteVerifier, open_note

CHUNK = 20_000
MAX_PROBLEMS = 200
LOCALIZED = frozenset({"leaf", "node", "gap"})


@dataclass(frozen=True)
class Problem:
    index: int | None
    kind: str
    message: str


@dataclass
class VerifyReport:
    size: int = 0
    checkpoints: int = 0
    signed_size: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        found = [p.index for p in self.problems if p.index is not None]
        return min(found) if found else None

    def localized(self, begin: int, end: int) -> int | None:
        """The first index in [begin, end) already pinned by an entry-level problem."""
        found = [
            p.index
            for p in self.problems
            if p.kind in LOCALIZED and p.index is not None and begin <= p.index < end
        ]
        return min(found) if found else None

    def add(self, index: int | None, kind: str, message: str) -> None:
        # Bounded: a wholesale rewrite must not turn the report into the journal's size.
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(index, kind, message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "checkpoints": self.checkpoints,
            "signed_size": self.signed_size,
            "unsigned_entries": max(0, self.size - self.signed_size),
            "first_bad_index": self.first_bad_index,
            "problems": [asdict(p) for p in self.problems],
        }


Progress = Callable[[int, int], None]
"""Called with (entries checked, entries to check) after each chunk."""


def verify_storage(
    engine: Engine,
    verifier: NoteVerifier | None,
    witnessed: Sequence[tuple[str, Checkpoint]] = (),
    progress: Progress | None = None,
) -> VerifyReport:
    """`witnessed`: (witness name, the checkpoint it cosigned), already verified."""
    try:
        with engine.connect() as conn, conn.begin():  # one snapshot for the whole check
            return _verify(conn, verifier, witnessed, progress)
    except SQLAlchemyError as exc:
        raise Unavailable(f"the journal cannot be read: {exc.__class__.__name__}") from exc


def _verify(
    conn: Any,
    verifier: NoteVerifier | None,
    witnessed: Sequence[tuple[str, Checkpoint]],
    progress: Progress | None,
) -> VerifyReport:
    report = VerifyReport()
    total = store.log_size(conn) if progress is not None else 0
    cps = conn.execute(select(tables.checkpoints).order_by(tables.checkpoints.c.seq)).all()
    want_roots = {int(row.size) for row in cps} | {cp.size for _, cp in witnessed}
    roots: dict[int, bytes] = {0: rfc6962.EMPTY_ROOT}
    frontier = rfc6962.Frontier()
    t = tables.leaves
    last = -1
    broken = False
    while not broken:
        rows = conn.execute(
            select(t.c.idx, t.c.leaf_hash, t.c.entry, t.c.up)
            .where(t.c.idx > last)
            .order_by(t.c.idx)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        start = frontier.size
        tabled: list[tuple[int, int, bytes]] = []  # nodes kept in journal_nodes
        for idx, stored_lh, entry, stored_up in rows:
            if idx != frontier.size:
                report.add(
                    frontier.size,
                    "gap",
                    f"entry {frontier.size} is missing "
                    f"(next stored index is {idx}): deleted or inserted entries",
                )
                broken = True
                break
            lh = rfc6962.leaf_hash(bytes(entry))
            if lh != bytes(stored_lh):
                report.add(idx, "leaf", f"entry {idx} does not match its leaf hash: edited")
            up = frontier.append(lh)
            kept, stored = store.kept_in_row(up), bytes(stored_up)
            if stored != kept:
                for lvl, i, h in rfc6962.completed(idx, kept):
                    if rfc6962.up_hash(stored, lvl) != h:
                        _bad_node(report, lvl, i)
            tabled.extend(store.upper_nodes(idx, up))
            if frontier.size in want_roots:
                roots[frontier.size] = frontier.root()
        last = int(rows[-1].idx)
        if tabled:
            _check_tabled_nodes(conn, report, start, frontier.size, tabled)
        if progress is not None:
            progress(frontier.size, total)
    report.size = store.log_size(conn)
    _check_orphans(conn, report, frontier.size)
    for name, cp in witnessed:
        _check_witnessed(report, cps, roots, frontier.size, name, cp)
    if verifier is None:
        if cps:
            report.add(None, "key", "no checkpoint verifier key: checkpoints not checked")
        return report
    _check_checkpoints(conn, report, cps, roots, verifier)
    return report


def _check_witnessed(
    report: VerifyReport,
    cps: list[Any],
    roots: dict[int, bytes],
    walked: int,
    name: str,
    cp: Checkpoint,
) -> None:
    if cp.size > report.size:
        report.add(
            report.size,
            "witness",
            f"witness {name} holds checkpoint {cp.seq} of size {cp.size}, but the journal "
            f"holds {report.size} entries: truncated or rolled back",
        )
    elif cp.size <= walked and roots.get(cp.size) != cp.root:
        report.add(
            0,
            "witness",
            f"witness {name} holds a different root at size {cp.size}: the journal was "
            "rewritten or forked (entries before that size can no longer be trusted)",
        )
    last_seq = int(cps[-1].seq) if cps else -1
    last_size = int(cps[-1].size) if cps else 0
    if last_seq < cp.seq or last_size < cp.size:
        held = f"checkpoint {last_seq} of size {last_size}" if cps else "no checkpoint"
        report.add(
            None,
            "witness",
            f"witness {name} holds checkpoint {cp.seq} of size {cp.size}, the journal "
            f"{held}: stored checkpoints were deleted or rolled back",
        )


def _bad_node(report: VerifyReport, level: int, idx: int) -> None:
    first, end = idx << level, (idx + 1) << level
    # A bad leaf or lower node already explains every node above it.
    if report.localized(first, end) is None:
        report.add(
            first,
            "node",
            f"stored hash of leaves [{first}, {end}) does not "
            "match the entries: reordered or rewritten",
        )


def _check_tabled_nodes(
    conn: Any, report: VerifyReport, a: int, b: int, made: list[tuple[int, int, bytes]]
) -> None:
    """Compare the nodes that leaves [a, b) completed and journal_nodes keeps (those above
    LEAF_LEVELS) with their rows there, reading only the levels `made` holds."""
    n = tables.nodes
    stored: dict[tuple[int, int], bytes] = {}
    for level in sorted({lvl for lvl, _, _ in made}):
        lo, hi = (a >> level), (b >> level) - 1
        base = tables.nid(level, 0)
        rows = conn.execute(
            select(n.c.nid, n.c.hash).where(n.c.nid >= base + lo, n.c.nid <= base + hi)
        )
        stored.update({(level, int(k) - base): bytes(h) for k, h in rows})
    for level, idx, h in made:
        if stored.get((level, idx)) != h:
            _bad_node(report, level, idx)


def _check_orphans(conn: Any, report: VerifyReport, size: int) -> None:
    n = tables.nodes
    for level in range(1, 64):
        hit = conn.execute(
            select(n.c.nid)
            .where(n.c.nid >= tables.nid(level, size >> level), n.c.nid < tables.nid(level + 1, 0))
            .limit(1)
        ).first()
        if hit is not None:
            report.add(
                size,
                "truncated",
                f"stored nodes reach beyond the last entry "
                f"{size - 1}: entries were removed from the end",
            )
            return


def _check_checkpoints(
    conn: Any, report: VerifyReport, cps: list[Any], roots: dict[int, bytes], verifier: NoteVerifier
) -> None:
    report.checkpoints = len(cps)
    prev_note: str | None = None
    prev_size, prev_root, good_size = 0, rfc6962.EMPTY_ROOT, 0
    for expected_seq, row in enumerate(cps):
        seq, size = int(row.seq), int(row.size)
        try:
            cp = parse_checkpoint(open_note(row.note, [verifier]))
        except (NoteError, CheckpointError) as exc:
            report.add(good_size, "checkpoint", f"checkpoint {seq} does not verify: {exc}")
            continue
        if cp.seq != seq or cp.size != size or cp.root != bytes(row.root):
            report.add(good_size, "checkpoint", f"checkpoint {seq}: row differs from its note")
        if cp.seq != expected_seq or cp.prev != (note_digest(prev_note) if prev_note else GENESIS):
            report.add(
                prev_size,
                "checkpoint-chain",
                f"checkpoint {cp.seq} does not follow "
                f"the stored checkpoint before it: a checkpoint was removed",
            )
        prev_note = row.note
        if cp.size > report.size:
            report.add(
                report.size,
                "truncated",
                f"checkpoint {cp.seq} signs size {cp.size} "
                f"but the journal holds {report.size} entries",
            )
            continue
        root = roots.get(cp.size)
        if root is None:
            continue  # the walk stopped at an earlier gap, already reported
        if root != cp.root:
            pinned = report.localized(good_size, cp.size)
            report.add(
                good_size if pinned is None else pinned,
                "root",
                f"recomputed root at size {cp.size} differs from signed checkpoint "
                f"{cp.seq}: entries in [{good_size}, {cp.size}) were altered",
            )
            continue
        if 0 < prev_size <= cp.size and not report.problems:
            plan = rfc6962.consistency(prev_size, cp.size)
            proof = plan.rehash(store.read_nodes(conn, plan.node_ids))
            try:
                rfc6962.verify_consistency(prev_size, cp.size, proof, prev_root, cp.root)
            except rfc6962.ProofError as exc:
                report.add(
                    prev_size,
                    "consistency",
                    f"checkpoints at {prev_size} and {cp.size} are not consistent: {exc}",
                )
        prev_size, prev_root = cp.size, cp.root
        good_size = max(good_size, cp.size)
    report.signed_size = good_size
