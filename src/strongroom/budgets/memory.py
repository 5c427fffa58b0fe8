"""The embedded budget backend: counts in this process, one lock around every decision so
concurrent threads can never be granted past a limit together.

Distinct subjects are kept exactly (subject -> last disclosure time). The set of one
bucket cannot grow far past its limit, because reservations are refused once it is
reached: at most limit - 1 plus what the requests in flight disclose.

With `track_changes`, every change is also collected as a delta (`take_changes`), which
`state_file.BudgetStateFile` writes behind the decisions so that a restart keeps them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from strongroom.budgets import window as win
from strongroom.budgets.backend import Charge, Reading, Settlement, Verdict

SWEEP_EVERY = 4096

CountKey = tuple[str, str, str, int]  # budget name, key value, "c" count | "w" would-refuse, bucket
SubjectKey = tuple[str, str, str]  # budget name, key value, subject


@dataclass
class Changes:
    """What changed since the last `take_changes`: count deltas and subjects' latest
    disclosure times, each with its budget's window."""

    counts: dict[CountKey, list[int]] = field(default_factory=dict)  # key -> [delta, window]
    subjects: dict[SubjectKey, tuple[float, int]] = field(default_factory=dict)

    def count(self, key: CountKey, delta: int, window: int) -> None:
        if delta:
            self.counts.setdefault(key, [0, window])[0] += delta

    def __bool__(self) -> bool:
        return bool(self.counts or self.subjects)


@dataclass
class _Bucket:
    window: int
    counts: dict[int, int] = field(default_factory=dict)
    would_refuse: dict[int, int] = field(default_factory=dict)
    # Least recently disclosed first, so the expired ones are popped from the front.
    seen: OrderedDict[str, float] = field(default_factory=OrderedDict)
    touched: float = 0.0


class MemoryBackend:
    def __init__(self, *, track_changes: bool = False) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._remembered: dict[str, tuple[str, float]] = {}
        self._ops = 0
        self._changes: Changes | None = Changes() if track_changes else None

    # --- the Backend protocol ------------------------------------------------------------
    def reserve(
        self, charges: Sequence[Charge], now: float, *, remember: tuple[str, str, int] | None = None
    ) -> Verdict:
        with self._lock:
            self._tick(now)
            buckets = [self._bucket(c, now) for c in charges]
            readings = [
                self._view(c, b, now, c.need) for c, b in zip(charges, buckets, strict=True)
            ]
            if any(
                not r.fits and not c.spec.shadow for c, r in zip(charges, readings, strict=True)
            ):
                return Verdict(False, readings)
            out = []
            for c, b, r in zip(charges, buckets, readings, strict=True):
                window = c.spec.window_seconds
                cur = win.index(now, window)
                used, reset = r.used, r.reset
                if c.spec.unit != "subjects" and c.amount:
                    b.counts[cur] = b.counts.get(cur, 0) + c.amount
                    self._changed(c, "c", cur, c.amount)
                    reset = reset if used else win.expires_at(cur, window) - now
                    used += c.amount
                refused = int(not r.fits)
                if refused:
                    b.would_refuse[cur] = b.would_refuse.get(cur, 0) + 1
                    self._changed(c, "w", cur, 1)
                out.append(Reading(used, 0.0, reset, refused))
            if remember is not None:
                principal, keys_json, ttl = remember
                self._remembered[principal] = (keys_json, now + ttl)
            return Verdict(True, out)

    def settle(self, items: Sequence[Settlement], now: float) -> list[Reading]:
        with self._lock:
            out = []
            for item in items:
                c = item.charge
                b = self._bucket(c, now)
                window = c.spec.window_seconds
                if c.spec.unit == "subjects":
                    for s in item.subjects:
                        b.seen[s] = max(now, b.seen.get(s, now))
                        b.seen.move_to_end(s)
                        if self._changes is not None:
                            self._changes.subjects[(c.spec.name, c.value, s)] = (
                                b.seen[s],
                                window,
                            )
                elif item.refund > 0:
                    idx = win.index(item.reserved_at, window)
                    if win.live(idx, win.index(now, window)) and idx in b.counts:
                        was = b.counts[idx]
                        b.counts[idx] = max(0, was - item.refund)
                        self._changed(c, "c", idx, b.counts[idx] - was)
                elif item.refund < 0:
                    cur = win.index(now, window)
                    b.counts[cur] = b.counts.get(cur, 0) - item.refund
                    self._changed(c, "c", cur, -item.refund)
                out.append(self._view(c, b, now, 0))
            return out

    def read(self, charges: Sequence[Charge], now: float) -> list[Reading]:
        with self._lock:
            out = []
            for c in charges:
                b = self._buckets.get((c.spec.name, c.value)) or _Bucket(c.spec.window_seconds)
                r = self._view(c, b, now, 0)
                wr, _, _ = win.counter_view(
                    b.would_refuse, now, c.spec.window_seconds, 0, c.spec.limit
                )
                out.append(Reading(r.used, 0.0, r.reset, wr))
            return out

    def recall(self, principal: str) -> str | None:
        with self._lock:
            kept = self._remembered.get(principal)
            return kept[0] if kept else None

    def close(self) -> None:
        """Nothing to release: the state lives and dies with the process."""

    # --- persistence (state_file.py) -----------------------------------------------------
    def take_changes(self) -> Changes:
        """The changes since the last call, handed over (an empty set without tracking)."""
        with self._lock:
            taken = self._changes or Changes()
            if self._changes is not None:
                self._changes = Changes()
            return taken

    def requeue(self, changes: Changes) -> None:
        """Give back changes that could not be written, ahead of the newer ones."""
        with self._lock:
            if self._changes is None:
                return
            newer, self._changes = self._changes, changes
            for counted, (delta, window) in newer.counts.items():
                changes.count(counted, delta, window)
            for subject, seen in newer.subjects.items():
                if subject not in changes.subjects or seen[0] > changes.subjects[subject][0]:
                    changes.subjects[subject] = seen

    def restore(
        self,
        counts: Iterable[tuple[CountKey, int, int]],
        subjects: Iterable[tuple[SubjectKey, float, int]],
        now: float,
    ) -> None:
        """Add saved state: counts as (key, count, window), subjects as (key, last
        disclosure time, window); anything outside its window is skipped."""
        with self._lock:
            for (name, value, kind, idx), count, window in counts:
                if not win.live(idx, win.index(now, window)) or count == 0:
                    continue
                b = self._buckets.setdefault((name, value), _Bucket(window, touched=now))
                into = b.counts if kind == "c" else b.would_refuse
                into[idx] = into.get(idx, 0) + count
            for (name, value, subject), at, window in sorted(subjects, key=lambda r: r[1]):
                if at <= now - window:
                    continue
                b = self._buckets.setdefault((name, value), _Bucket(window, touched=now))
                b.seen[subject] = max(at, b.seen.get(subject, at))
                b.seen.move_to_end(subject)

    # --- internals -----------------------------------------------------------------------
    def _changed(self, c: Charge, kind: str, idx: int, delta: int) -> None:
        if self._changes is not None:
            self._changes.count((c.spec.name, c.value, kind, idx), delta, c.spec.window_seconds)

    def _bucket(self, c: Charge, now: float) -> _Bucket:
        key = (c.spec.name, c.value)
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(c.spec.window_seconds)
        b.touched = now
        return b

    @staticmethod
    def _view(c: Charge, b: _Bucket, now: float, need: int) -> Reading:
        window, limit = c.spec.window_seconds, c.spec.limit
        if c.spec.unit == "subjects":
            cutoff = now - window
            while b.seen and next(iter(b.seen.values())) <= cutoff:
                b.seen.popitem(last=False)
            used, wait, reset = win.subject_view(
                iter(b.seen.values()), len(b.seen), now, window, limit, need
            )
            return Reading(used, wait, reset)
        cur = win.index(now, window)
        for i in [i for i in b.counts if not win.live(i, cur)]:
            del b.counts[i]
        used, wait, reset = win.counter_view(b.counts, now, window, need, limit)
        return Reading(used, wait, reset)

    def _tick(self, now: float) -> None:
        """Forget idle buckets now and then, so a stream of one-off IPs cannot grow the
        process without bound."""
        self._ops += 1
        if self._ops % SWEEP_EVERY:
            return
        for key, b in list(self._buckets.items()):
            if b.touched + b.window * (1 + 2 / win.BUCKETS) < now:
                del self._buckets[key]
        for p, (_, until) in list(self._remembered.items()):
            if until < now:
                del self._remembered[p]
