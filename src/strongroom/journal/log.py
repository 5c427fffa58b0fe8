"""The journal: an append-only RFC 6962 log of access events with signed checkpoints.

`append` returns only after the entry is committed (durable). Appends from many threads
share commits: callers add their entry to the open batch and wait on that batch's relay;
one writer thread swaps the open batch for an empty one, writes it in one transaction
(group commit) and opens the relay, which lets its waiting threads through one after
another. A thread appender costs a lock and a list append until its batch commits, no
queue hand-off; an `append_async` caller also one future of its event loop, and each loop
gets one wake-up call per batch. Refusals appended without waiting (`append_unwaited`) do
not hurry the writer: a batch of only those is held open a moment (LINGER_SECONDS) so a
flood of them shares commits; anything waited for commits it at once. Every batch
re-reads the tree size under the writer lock (`engines.writing`), so several processes
can append to one journal; each writer then indexes the entries it appended, in the index
database under the indexes' own lock, so indexing never holds up another process's
appends. If the journal cannot write, `append`
raises `Unavailable`: the gate then answers 503 (no journal, no data).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from strongroom import metrics
from strongroom.clock import Clock
from strongroom.errors import BadRequest, Conflict, Unavailable
from strongroom.journal import engines, rfc6962, schema, store, tables
from strongroom.journal.checkpoint import GENESIS, Checkpoint, note_digest
from strongroom.journal.entry import IndexRows, Prepared, decode, prepare
from strongroom.journal.note import NoteSigner, NoteVerifier

APPEND_TIMEOUT = 30.0
POLL_SECONDS = 0.2
# The writer indexes behind the log (store.py says why) once this many entries wait, or
# whenever it is idle, in transactions of at most INDEX_CHUNK entries.
INDEX_LAG = 4096
INDEX_CHUNK = 8192
INDEX_RETRY_SECONDS = 30.0
GAP_SECONDS = 10.0
PRUNE_SECONDS = 60.0
# Entries appended without their caller waiting (refusals) that may wait for the writer at
# once; past this, each further one is tallied instead, and the tallies are journaled.
UNWAITED_LIMIT = 10_000
# A batch holding only unwaited entries is held open this long, or until this many have
# joined it, so that a flood of refusals shares one commit (an fsync) instead of paying one
# each; a waited append, a checkpoint request, `flush` or `close` commits it at once. A
# crash may lose the refusals of one such batch (their callers never waited for them).
LINGER_SECONDS = 0.05
LINGER_ENTRIES = 512

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Relay:
    """A one-shot gate for the threads waiting on one commit: closed until `open()`, then
    each waiter let through lets the next one through. A threading.Event wakes every
    waiter at once, and they then queue for its condition's lock and the GIL together:
    passed on one at a time they cost less."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def open(self) -> None:
        self._lock.release()

    def wait(self, timeout: float) -> bool:
        """Whether the gate opened within `timeout` seconds."""
        if not self._lock.acquire(timeout=timeout):
            return False
        self._lock.release()
        return True


class _Batch:
    """The entries of one commit, and how their callers learn the outcome."""

    __slots__ = ("items", "checkpoint", "done", "start", "note", "error", "waiters", "unwaited")

    def __init__(self) -> None:
        self.items: list[Prepared] = []
        self.checkpoint = False  # a caller asked for a checkpoint at this commit
        self.done = _Relay()
        self.start = 0
        self.note: str | None = None
        self.error: str | None = None
        # the futures of append_async callers, by their event loop: one per caller, so a
        # cancelled caller cancels only its own (a shared future would need a shield per
        # caller, which costs more than the future)
        self.waiters: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        self.unwaited = 0  # entries of append_unwaited callers, who are not waiting

    def __bool__(self) -> bool:
        return bool(self.items) or self.checkpoint

    def finish(self) -> None:
        self.done.open()
        for loop, futs in self.waiters.items():
            try:
                loop.call_soon_threadsafe(_resolve, futs)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                pass

    def outcome(self, pos: int) -> int:
        if self.error is not None:
            raise Unavailable(self.error)
        return self.start + pos


def _resolve(futs: list[asyncio.Future[None]]) -> None:
    for fut in futs:
        if not fut.done():  # a cancelled caller's
            fut.set_result(None)


class Journal:
    def __init__(
        self,
        engine: Engine,
        index_engine: Engine,
        *,
        signer: NoteSigner | None,
        verifier: NoteVerifier | None,
        clock: Clock,
        checkpoint_every: int,
        checkpoint_interval: float,
        index_lag: int | None = INDEX_LAG,
    ) -> None:
        self.engine = engine
        self.index_engine = index_engine  # engines.make_engines says where
        self.signer = signer
        self.verifier = verifier or (signer.verifier() if signer else None)
        self.clock = clock
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.checkpoint_interval = float(checkpoint_interval)
        self.index_lag = index_lag  # None: index only when catch_up_index() is called
        self._lock = threading.Lock()
        self._wake = threading.Event()
        # set when the open batch must not linger: someone waits for it, or it is full
        self._hurry = threading.Event()
        self.linger_seconds = LINGER_SECONDS
        self.linger_entries = LINGER_ENTRIES
        self._open = _Batch()
        self._frontier: rfc6962.Frontier | None = None
        self._last_cp_time = clock.now()
        self._last_cp_size = -1
        self._indexed: int | None = None  # indexed_size as the writer last saw it
        self._indexed_moved = time.monotonic()  # when that last changed
        # (index, rows) of entries this writer committed and has not indexed yet
        self._unindexed: list[tuple[int, IndexRows]] = []
        self._index_retry_at = 0.0
        self._prune_at = 0.0  # when the writer next forgets old hours' counted subjects
        self._closed = False
        self.unwaited_limit = UNWAITED_LIMIT
        self._unwaited = 0  # append_unwaited entries queued and not yet committed
        # (principal, endpoint, reason, ip) -> refusals past the limit, not yet journaled
        self._tally: Counter[tuple[str, str, str, str]] = Counter()
        # entries enqueued or tallied, and of those, committed (or failed): `flush` waits
        self._queued = 0
        self._settled = 0
        self._settled_cond = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        signer: NoteSigner | None,
        clock: Clock,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 60.0,
        verifier: NoteVerifier | None = None,
        index_lag: int | None = INDEX_LAG,
    ) -> Journal:
        engine, index_engine = engines.make_engines(url)
        try:
            schema.ensure_schema(engine, index_engine)
        except Exception:
            engine.dispose()
            index_engine.dispose()
            raise
        journal = cls(
            engine,
            index_engine,
            signer=signer,
            verifier=verifier,
            clock=clock,
            checkpoint_every=checkpoint_every,
            checkpoint_interval=checkpoint_interval,
            index_lag=index_lag,
        )
        with journal._read() as conn:
            row = store.latest_checkpoint_row(conn)
        if row is not None:
            journal._last_cp_time, journal._last_cp_size = float(row.created), int(row.size)
        journal._thread.start()
        return journal

    # -- writing ---------------------------------------------------------------------

    def append(self, entry: dict[str, Any]) -> int:
        """Append one entry; return its index once it is committed."""
        started = time.perf_counter()
        batch, pos, _ = self._enqueue(prepare(entry))
        if not batch.done.wait(APPEND_TIMEOUT):
            raise Unavailable("the journal did not commit in time")
        index = batch.outcome(pos)
        metrics.JOURNAL_APPEND.observe(time.perf_counter() - started)
        return index

    async def append_async(self, entry: dict[str, Any]) -> int:
        """`append` for event-loop callers: waits for the commit without holding a thread."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        batch, pos, fut = self._enqueue(prepare(entry), loop)
        assert fut is not None
        await fut
        index = batch.outcome(pos)
        metrics.JOURNAL_APPEND.observe(time.perf_counter() - started)
        return index

    def append_unwaited(self, entry: dict[str, Any]) -> None:
        """Append without waiting for the commit: for refusals, which disclose nothing, so
        a flood of them costs no fsync each. The entry is committed with the writer's next
        batch. While `unwaited_limit` such entries are queued, a further one is not queued
        but counted, by principal, endpoint, reason and IP, and the writer journals the
        counts with its next batch (`refusals_tallied` entries, one per principal): the
        journal holds every refusal, one by one or in a tally."""
        if self._unwaited >= self.unwaited_limit:  # an unlocked read: a tally is exact either way
            key = (
                str(entry.get("principal")),
                str(entry.get("endpoint")),
                str(entry.get("reason")),
                str(entry.get("ip")),
            )
            with self._lock:
                if self._closed:
                    raise Unavailable("the journal is closed")
                self._tally[key] += 1
                self._queued += 1
            self._wake.set()
            self._hurry.set()
            return
        self._enqueue(prepare(entry), unwaited=True)

    def flush(self, timeout: float = APPEND_TIMEOUT) -> None:
        """Wait until every entry appended so far, waited for or not, and every tally is
        committed (readers that must see refusals too, such as investigations)."""
        with self._lock:
            target = self._queued
            if self._settled >= target:
                return
            self._wake.set()
            self._hurry.set()
            if not self._settled_cond.wait_for(lambda: self._settled >= target, timeout):
                raise Unavailable("the journal did not commit in time")

    def make_checkpoint(self) -> str:
        """Sign a checkpoint of the current tree (or return the latest if the tree has not
        grown since) and return the signed note."""
        if self.signer is None:
            raise Conflict("this journal has no checkpoint signing key")
        batch, _, _ = self._enqueue(None)
        if not batch.done.wait(APPEND_TIMEOUT):
            raise Unavailable("the journal did not commit in time")
        batch.outcome(0)
        return str(batch.note)

    def _enqueue(
        self,
        prepared: Prepared | None,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        unwaited: bool = False,
    ) -> tuple[_Batch, int, asyncio.Future[None] | None]:
        """Add an entry (None: a checkpoint request) to the open batch; with `loop`, also
        return a future of that loop that the batch's commit resolves."""
        fut = None
        with self._lock:
            if self._closed:
                raise Unavailable("the journal is closed")
            batch = self._open
            pos = len(batch.items)
            if prepared is None:
                batch.checkpoint = True
            else:
                batch.items.append(prepared)
                self._queued += 1
            if unwaited:
                batch.unwaited += 1
                self._unwaited += 1
            if loop is not None:
                fut = loop.create_future()
                futs = batch.waiters.get(loop)
                if futs is None:
                    batch.waiters[loop] = [fut]
                else:
                    futs.append(fut)
        # The writer clears both flags under the lock when it swaps batches, so only the
        # first item of a batch needs to raise the wake flag, and only the first waited
        # item (or the one that fills it) the hurry flag.
        if pos == 0 or prepared is None:
            self._wake.set()
        if not unwaited or batch.unwaited == self.linger_entries:
            self._hurry.set()
        return batch, pos, fut

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._hurry.set()
        self._thread.join()
        self.engine.dispose()
        self.index_engine.dispose()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            woken = self._wake.wait(POLL_SECONDS)
            if woken and self._may_linger():
                self._hurry.wait(self.linger_seconds)
            with self._lock:
                batch = self._open
                if batch or self._tally:
                    self._open = _Batch()
                tally, self._tally = self._tally, Counter()
                self._wake.clear()
                self._hurry.clear()
                closing = self._closed
            enqueued = len(batch.items) + sum(tally.values())
            if tally:
                batch.items.extend(prepare(e) for e in tally_entries(tally, self.clock.now()))
            if batch:
                self._commit(batch)
                with self._lock:
                    self._unwaited -= batch.unwaited
                    self._settled += enqueued
                    self._settled_cond.notify_all()
                if batch.unwaited and batch.error is not None:
                    log.error("journal lost %d unwaited entries: %s", batch.unwaited, batch.error)
            elif self._timed_checkpoint_due():
                self._commit(_Batch())
            if closing:
                # _enqueue refuses once closed, so the batch just written was the last
                return
            self._index_if_due(idle=not woken)

    def _may_linger(self) -> bool:
        """Whether the open batch holds only entries nobody waits for (refusals)."""
        with self._lock:
            batch = self._open
            return (
                self.linger_seconds > 0
                and bool(batch.items)
                and batch.unwaited == len(batch.items)
                and not batch.checkpoint
                and not self._closed
            )

    def _keep_unindexed(self, start: int, items: list[Prepared]) -> None:
        pending = self._unindexed
        if len(pending) > 16 * INDEX_CHUNK:
            # indexing keeps failing: bound the memory (those entries are read back later)
            del pending[: len(pending) // 2]
        pending.extend(zip(range(start, start + len(items)), (p.rows for p in items), strict=True))

    def _index_if_due(self, *, idle: bool) -> None:
        """Index this writer's own entries once `index_lag` of them wait, or when idle; read
        back entries below them that nobody indexed when idle, or once indexed_size has
        not moved for GAP_SECONDS (their writer, another process, has stopped)."""
        if self.index_lag is None or time.monotonic() < self._index_retry_at:
            return
        if self._frontier is None:
            # Nothing appended by this writer yet: an index emptied at open (a new layout)
            # or left behind by a stopped writer is rebuilt from the log while idle.
            if idle and (self._indexed is None or self._indexed < self._log_size()):
                self._index_step(self._index_gap)
            return
        pending = self._unindexed
        if pending and (idle or len(pending) >= self.index_lag):
            chunk = pending[:INDEX_CHUNK]
            if self._index_step(lambda conn: store.index_known(conn, chunk)) is not None:
                del pending[: len(chunk)]
            return
        below = pending[0][0] if pending else self._frontier.size
        stalled = time.monotonic() - self._indexed_moved >= GAP_SECONDS
        if self._indexed is None or (self._indexed < below and (idle or stalled)):
            self._index_step(self._index_gap)
        elif idle and time.monotonic() >= self._prune_at:
            # Forgetting old hours' subjects deletes tens of thousands of index rows: done
            # here, when idle, rather than by whoever indexes next (a page view, say).
            pruned = self._index_step(
                lambda conn: (sum(store.prune_activity(conn, span) for span in tables.SPANS), -1)
            )
            self._prune_at = time.monotonic() + (0 if pruned else PRUNE_SECONDS)

    def _log_size(self) -> int:
        try:
            return self.size()
        except Unavailable:
            return 0

    def _index_step(self, fn: Callable[[Connection], tuple[int, int]]) -> int | None:
        """Run one indexing transaction (`fn` returns how many entries it indexed and
        indexed_size after, or -1 when it did not read it); return the count, or None when
        it failed. A failure (say, an
        entry edited into invalid JSON) leaves appends untouched; readers then read more
        of the log directly, and verify names the damage."""
        try:
            with engines.writing(self.index_engine, index=True) as conn:
                done, indexed = fn(conn)
        except Exception as exc:  # noqa: BLE001 - the log itself must keep going
            log.warning("journal indexing failed, retrying later: %s", exc.__class__.__name__)
            self._indexed = None
            self._index_retry_at = time.monotonic() + INDEX_RETRY_SECONDS
            return None
        if indexed >= 0 and indexed != self._indexed:
            self._indexed, self._indexed_moved = indexed, time.monotonic()
        return done

    def catch_up_index(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Index every entry committed so far, reading them back (investigation indexes
        normally trail the log by up to `index_lag` entries, which readers read
        directly); return the count. `progress` is called with (entries indexed, the
        log's size) after each transaction."""
        total = 0
        while done := self._index_step(self._index_gap):
            total += done
            if progress is not None and self._indexed is not None:
                progress(self._indexed, self._log_size())
        return total

    def _index_gap(self, conn: Connection) -> tuple[int, int]:
        with self.engine.connect() as log:
            return store.index_gap(conn, log, INDEX_CHUNK)

    def _timed_checkpoint_due(self) -> bool:
        # Without a frontier yet, one empty batch loads it and decides precisely.
        grown = self._frontier is None or self._frontier.size > self._last_cp_size
        return (
            self.signer is not None
            and grown
            and self.clock.now() - self._last_cp_time >= self.checkpoint_interval
        )

    def _commit(self, batch: _Batch) -> None:
        try:
            with engines.writing(self.engine) as conn:
                size = store.log_size(conn)
                if self._frontier is None or self._frontier.size != size:
                    self._frontier = store.load_frontier(conn, size)
                frontier = self._frontier
                ups = frontier.extend(p.leaf_hash for p in batch.items)
                store.write_batch(conn, size, batch.items, ups)
                end = frontier.size
                due = (
                    self.signer is not None
                    and end > self._last_cp_size
                    and (
                        size // self.checkpoint_every != end // self.checkpoint_every
                        or self.clock.now() - self._last_cp_time >= self.checkpoint_interval
                    )
                )
                if due or batch.checkpoint:
                    batch.note = self._checkpoint(conn, frontier)
            batch.start = size
            self._keep_unindexed(size, batch.items)
        except Exception as exc:  # noqa: BLE001 - the writer must outlive any one batch
            self._frontier = None  # re-read from storage on the next batch
            batch.error = f"the journal cannot write: {exc.__class__.__name__}"
        finally:
            batch.finish()

    def _checkpoint(self, conn: Connection, frontier: rfc6962.Frontier) -> str:
        if self.signer is None:
            raise LookupError("no signer")
        now = self.clock.now()
        last = store.latest_checkpoint_row(conn)
        if last is not None and int(last.size) == frontier.size:
            self._last_cp_time, self._last_cp_size = now, frontier.size
            return str(last.note)
        seq = 0 if last is None else int(last.seq) + 1
        prev = GENESIS if last is None else note_digest(str(last.note))
        root = frontier.root()
        body = Checkpoint(self.signer.name, frontier.size, root, seq, prev).body()
        note = self.signer.sign(body)
        store.insert_checkpoint(conn, seq, frontier.size, root, note, now)
        self._last_cp_time, self._last_cp_size = now, frontier.size
        return note

    # -- reading ---------------------------------------------------------------------

    def _read(self, engine: Engine | None = None) -> Connection:
        try:
            return (engine or self.engine).connect()
        except SQLAlchemyError as exc:
            raise Unavailable("the journal database is unreachable") from exc

    def _query(self, fn: Callable[[Connection], T], *, index: bool = False) -> T:
        """`fn(conn)` on a connection to the log (index=True: to the indexes)."""
        try:
            with self._read(self.index_engine if index else self.engine) as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise Unavailable(f"the journal cannot be read: {exc.__class__.__name__}") from exc

    def size(self) -> int:
        return int(self._query(store.log_size))

    def indexed_size(self) -> int:
        """How many entries the investigation indexes cover (the rest are read directly)."""
        return int(self._query(store.indexed_size, index=True))

    def latest_checkpoint(self) -> str | None:
        row = self._query(store.latest_checkpoint_row)
        return None if row is None else str(row.note)

    def checkpoints(self) -> list[tuple[int, int, str]]:
        """Every stored checkpoint as (seq, size, signed note), oldest first."""
        t = tables.checkpoints
        rows = self._query(
            lambda c: c.execute(select(t.c.seq, t.c.size, t.c.note).order_by(t.c.seq)).all()
        )
        return [(int(a), int(b), str(n)) for a, b, n in rows]

    def entry(self, index: int) -> dict[str, Any]:
        t = tables.leaves
        data = self._query(lambda c: c.execute(select(t.c.entry).where(t.c.idx == index)).scalar())
        if data is None:
            raise BadRequest(f"no journal entry {index}")
        return decode(bytes(data))

    def entries_since(self, ts: float, *, chunk: int = 5_000) -> Iterator[dict[str, Any]]:
        """The entries from the first one stamped at or after `ts` to the end, in order.
        Entries are appended in time order, so the first is found by bisection."""
        lo, hi = 0, self.size()
        while lo < hi:
            mid = (lo + hi) // 2
            if float(self.entry(mid).get("ts", 0.0)) < ts:
                lo = mid + 1
            else:
                hi = mid
        t = tables.leaves
        end = self.size()
        for start in range(lo, end, chunk):

            def read(c: Connection, a: int = start) -> list[bytes]:
                q = select(t.c.entry).where(t.c.idx >= a, t.c.idx < min(a + chunk, end))
                return [bytes(d) for d in c.execute(q.order_by(t.c.idx)).scalars()]

            for data in self._query(read):
                yield decode(data)

    def _plan_hashes(self, plan: rfc6962.ProofPlan, size: int) -> list[bytes]:
        # One connection for the size check and the reads: a proof is a few lookups, and
        # each checkout and statement costs as much as one.
        current, found = self._query(
            lambda c: (store.log_size(c), store.read_nodes(c, plan.node_ids))
        )
        if size > current:
            raise BadRequest(f"tree size {size} is beyond the journal's size {current}")
        try:
            return plan.rehash(found)
        except rfc6962.ProofError as exc:
            raise Unavailable(f"journal storage is incomplete: {exc}") from exc

    def leaf_hash(self, index: int) -> bytes:
        return self._plan_hashes(rfc6962.ProofPlan((((0, index),),)), index + 1)[0]

    def root(self, size: int) -> bytes:
        if size == 0:
            return rfc6962.EMPTY_ROOT
        return self._plan_hashes(rfc6962.root_plan(size), size)[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        try:
            plan = rfc6962.inclusion(index, size)
        except rfc6962.ProofError as exc:
            raise BadRequest(str(exc)) from exc
        return self._plan_hashes(plan, size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        try:
            plan = rfc6962.consistency(size1, size2)
        except rfc6962.ProofError as exc:
            raise BadRequest(str(exc)) from exc
        return self._plan_hashes(plan, size2)

    def verify(
        self,
        witnessed: Sequence[tuple[str, Checkpoint]] = (),
        progress: Callable[[int, int], None] | None = None,
    ) -> Any:
        """Recompute the tree and check every checkpoint (journal/verify.py), holding the
        journal to `witnessed` ((witness name, checkpoint it cosigned)); `progress` is
        called with (entries checked, entries to check) as it goes."""
        from strongroom.journal.verify import verify_storage

        return verify_storage(self.engine, self.verifier, witnessed, progress)


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def tally_entries(tally: Counter[tuple[str, str, str, str]], now: float) -> list[dict[str, Any]]:
    """One `refusals_tallied` entry per principal: how many refusals, of which endpoint,
    reason and IP, were counted instead of journaled one by one."""
    by_principal: dict[str, list[dict[str, Any]]] = {}
    for (principal, endpoint, reason, ip), n in sorted(tally.items()):
        by_principal.setdefault(principal, []).append(
            {"endpoint": endpoint, "reason": reason, "ip": ip, "count": n}
        )
    return [
        {
            "v": 1,
            "ts": now,
            "kind": "security",
            "principal": principal,
            "endpoint": "refusals",
            "outcome": "refused",
            "reason": "refusals_tallied",
            "records": 0,
            "subjects": [],
            "fields": [],
            "detail": {"refusals": sum(c["count"] for c in counts), "counts": counts},
        }
        for principal, counts in by_principal.items()
    ]
