"""An attacker with write access to the journal database: each edit is detected by verify
and reported with the first bad index. Also a SIGKILL crash loses no acknowledged entry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom.clock import FakeClock
from strongroom.journal import Journal, NoteSigner, rfc6962, store, tables
from strongroom.journal.tables import nid

from .helpers import event

SIZE = 40


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate("test.local/journal")


def _build(url: str, signer: NoteSigner) -> None:
    j = Journal.open(url, signer=signer, clock=FakeClock(), checkpoint_every=10)
    for i in range(SIZE):
        j.append(event(i))
    assert [s for _, s, _ in j.checkpoints()] == [10, 20, 30, 40]
    assert j.verify().ok
    j.close()


def _leaf(conn: sa.Connection, i: int) -> tuple[bytes, bytes]:
    row = conn.execute(
        sa.text("SELECT entry, leaf_hash FROM journal_leaves WHERE idx = :i"), {"i": i}
    ).one()
    return bytes(row[0]), bytes(row[1])


def _set_leaf(conn: sa.Connection, i: int, entry: bytes, lh: bytes) -> None:
    conn.execute(
        sa.text("UPDATE journal_leaves SET entry = :e, leaf_hash = :h WHERE idx = :i"),
        {"e": entry, "h": lh, "i": i},
    )


def _forged(conn: sa.Connection, i: int) -> bytes:
    return _leaf(conn, i)[0].replace(b'"p-', b'"x-')


def edit_entry(conn: sa.Connection) -> None:
    conn.execute(
        sa.text("UPDATE journal_leaves SET entry = :e WHERE idx = 13"), {"e": _forged(conn, 13)}
    )


def edit_entry_and_leaf_hash(conn: sa.Connection) -> None:
    e = _forged(conn, 13)
    _set_leaf(conn, 13, e, rfc6962.leaf_hash(e))


def rewrite_whole_tree(conn: sa.Connection) -> None:
    """Edit entry 13 and recompute every stored hash consistently: only the signed
    checkpoints can tell."""
    edit_entry_and_leaf_hash(conn)
    f = rfc6962.Frontier()
    for i in range(SIZE):
        up = f.append(_leaf(conn, i)[1])
        conn.execute(
            sa.text("UPDATE journal_leaves SET up = :u WHERE idx = :i"),
            {"u": store.kept_in_row(up), "i": i},
        )
        for level, idx, h in store.upper_nodes(i, up):
            conn.execute(
                sa.text("UPDATE journal_nodes SET hash = :h WHERE nid = :n"),
                {"h": h, "n": nid(level, idx)},
            )


def edit_stored_node(conn: sa.Connection) -> None:
    """Forge the level-2 node over leaves [12, 16), kept in the row of leaf 15 (which
    completes levels 1 to 4, and keeps 1 to 3)."""
    up = bytes(conn.execute(sa.text("SELECT up FROM journal_leaves WHERE idx = 15")).scalar())
    assert len(up) == 3 * 32
    conn.execute(
        sa.text("UPDATE journal_leaves SET up = :u WHERE idx = 15"),
        {"u": up[:32] + bytes(32) + up[64:]},
    )


def edit_upper_node(conn: sa.Connection) -> None:
    """Forge the level-4 node over leaves [16, 32), which journal_nodes keeps when leaf
    rows keep levels 1 to 3 only (the test's setting below)."""
    conn.execute(
        sa.text("UPDATE journal_nodes SET hash = :h WHERE nid = :n"),
        {"h": bytes(32), "n": nid(4, 1)},
    )


def delete_entry(conn: sa.Connection) -> None:
    conn.execute(sa.text("DELETE FROM journal_leaves WHERE idx = 17"))


def insert_entry(conn: sa.Connection) -> None:
    for i in range(SIZE - 1, 21, -1):
        conn.execute(sa.text("UPDATE journal_leaves SET idx = idx + 1 WHERE idx = :i"), {"i": i})
    e = _forged(conn, 21)
    conn.execute(
        sa.text("INSERT INTO journal_leaves (idx, leaf_hash, up, entry) VALUES (22, :h, :u, :e)"),
        {"h": rfc6962.leaf_hash(e), "u": b"", "e": e},
    )


def reorder_entries(conn: sa.Connection) -> None:
    a, b = _leaf(conn, 26), _leaf(conn, 27)
    _set_leaf(conn, 26, *b)
    _set_leaf(conn, 27, *a)


def truncate(conn: sa.Connection) -> None:
    conn.execute(sa.text("DELETE FROM journal_leaves WHERE idx >= 35"))


def remove_checkpoint(conn: sa.Connection) -> None:
    conn.execute(sa.text("DELETE FROM journal_checkpoints WHERE size = 20"))


def edit_checkpoint(conn: sa.Connection) -> None:
    note = conn.execute(sa.text("SELECT note FROM journal_checkpoints WHERE size = 30")).scalar()
    conn.execute(
        sa.text("UPDATE journal_checkpoints SET note = :n WHERE size = 30"),
        {"n": note.replace("\n30\n", "\n29\n")},
    )


ATTACKS: list[tuple[Callable[[sa.Connection], None], int, str]] = [
    (edit_entry, 13, "leaf"),
    (edit_entry_and_leaf_hash, 12, "node"),  # leaves [12, 14) share a stored node
    (rewrite_whole_tree, 10, "root"),  # last checkpoint that still verifies: size 10
    (edit_stored_node, 12, "node"),
    (edit_upper_node, 16, "node"),
    (delete_entry, 17, "gap"),
    (insert_entry, 22, "node"),
    (reorder_entries, 26, "node"),
    (truncate, 35, "truncated"),
    (remove_checkpoint, 10, "checkpoint-chain"),
    (edit_checkpoint, 20, "checkpoint"),
]


@pytest.mark.parametrize(
    ("attack", "first_bad", "kind"), ATTACKS, ids=[a[0].__name__ for a in ATTACKS]
)
def test_tampering_is_detected(
    db_url: str,
    signer: NoteSigner,
    attack,
    first_bad: int,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # leaf rows keep levels 1 to 3, so that 40 entries put upper nodes in journal_nodes
    monkeypatch.setattr(tables, "LEAF_LEVELS", 3)
    _build(db_url, signer)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        attack(conn)
    engine.dispose()
    j = Journal.open(db_url, signer=None, verifier=signer.verifier(), clock=FakeClock())
    report = j.verify()
    j.close()
    assert not report.ok
    assert report.first_bad_index == first_bad, report.to_dict()
    assert kind in {p.kind for p in report.problems}, report.to_dict()


CHILD = r"""
import os, sys, threading
from strongroom.clock import SystemClock
from strongroom.journal import Journal, NoteSigner
j = Journal.open(sys.argv[1], signer=NoteSigner.from_key(os.environ["SIGNER_KEY"]),
                 clock=SystemClock(), checkpoint_every=50)
lock = threading.Lock()
def work(k):
    n = 0
    while True:
        n += 1
        idx = j.append({"v": 1, "ts": float(n), "kind": "access", "principal": f"w{k}",
                        "outcome": "allowed", "detail": {"n": n}})
        with lock:
            sys.stdout.write(f"{idx} w{k} {n}\n")
            sys.stdout.flush()
for k in range(4):
    threading.Thread(target=work, args=(k,), daemon=True).start()
threading.Event().wait()
"""


def test_sigkill_loses_no_acknowledged_entry(
    db_url: str, signer: NoteSigner, tmp_path: Path
) -> None:
    env = {**os.environ, "SIGNER_KEY": signer.signer_key}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url], stdout=subprocess.PIPE, text=True, env=env
    )
    acked: dict[int, tuple[str, int]] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            idx, who, n = line.split()
            acked[int(idx)] = (who, int(n))
            if len(acked) >= 400:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(acked) >= 400
    j = Journal.open(db_url, signer=signer, clock=FakeClock())
    assert j.size() >= max(acked) + 1
    for idx, (who, n) in acked.items():
        e = j.entry(idx)
        assert (e["principal"], e["detail"]["n"]) == (who, n)
    report = j.verify()
    assert report.ok, report.to_dict()
    assert report.checkpoints >= 8
    j.append(event(0))  # the journal goes on after the crash
    j.close()
