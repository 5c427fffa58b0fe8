"""Two nodes appending to one journal at once, on SQLite and PostgreSQL: two processes, each
with its own `Journal` and eight writer threads, as two `strongroom serve` nodes on one
database. Every entry lands once in one RFC 6962 tree, the checkpoints both nodes sign
cover it, and a full verification passes."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter

from strongroom.clock import FakeClock
from strongroom.journal import Journal, NoteSigner

from .helpers import event

PER_NODE = 400
THREADS = 8


def node(url: str, name: str, key: str, ready: object) -> None:
    """One node: wait for the other, then append PER_NODE entries from THREADS threads."""
    journal = Journal.open(url, signer=NoteSigner.from_key(key), clock=FakeClock())
    ready.wait()  # type: ignore[attr-defined]

    def work(k: int) -> None:
        for i in range(k, PER_NODE, THREADS):
            journal.append(event(i, principal=f"{name}-{i % 5}", subjects=(f"{name}-s{i}",)))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    journal.make_checkpoint()
    journal.close()


def test_two_nodes_append_into_one_tree(db_url: str) -> None:
    signer = NoteSigner.generate("test.local/journal")
    Journal.open(db_url, signer=signer, clock=FakeClock()).close()  # the schema, once
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(2)
    key = signer.signer_key
    procs = [ctx.Process(target=node, args=(db_url, n, key, ready)) for n in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]

    journal = Journal.open(db_url, signer=signer, clock=FakeClock())
    try:
        assert journal.size() == 2 * PER_NODE
        entries = [journal.entry(i) for i in range(journal.size())]
        per_node = Counter(e["principal"].split("-")[0] for e in entries)
        assert per_node == {"a": PER_NODE, "b": PER_NODE}
        assert len({tuple(e["subjects"]) for e in entries}) == 2 * PER_NODE  # each once
        checkpoints = journal.checkpoints()
        assert checkpoints and checkpoints[-1][1] == 2 * PER_NODE
        report = journal.verify()
        assert report.ok, report
    finally:
        journal.close()
