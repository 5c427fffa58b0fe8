"""Recent activity: the detectors' alerts and the extraction curves of the security
console.

Both read the indexes beside the log (tables.py: `journal_alerts`, and the hourly and
daily counts of `journal_activity` and `journal_activity_daily`), which the journal's
writer keeps behind the log like the investigation indexes. A reader first indexes the
few entries the writer has not indexed yet (`Journal.catch_up_index`, when fewer than
CATCH_UP_MAX wait); alerts read the entries no index covers from the log, and curves are
answered from the index only when it covers the whole log. The indexes are derived data:
what they hold never decides a verification, and an answer they cannot give (a journal
whose index is being rebuilt, buckets of another length) comes from the log itself, as
below.

Read from the log, these read the newest entries in chunks from the window's start, and
never more than `max_entries` of them: the cost is bounded by that cap, not by the
journal's size, and an answer that stopped at the cap says so (`truncated`).

Only counts, pseudonymous principal IDs, roles, detector families and risks come out;
subjects are counted (distinct), never listed. The curves' summary of a bucket that ended
a few minutes ago never changes (entries are never rewritten): it is kept in memory, so
a curve reads only the entries of the hours it has not summarized yet.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, LargeBinary, func, literal, or_, select

from strongroom.journal import store, tables
from strongroom.journal.driver_sql import fetch, in_sql
from strongroom.journal.entry import DETECTOR_ENDPOINT, REVEALING, decode
from strongroom.journal.log import Journal

CHUNK = 5_000
# A reader indexes the entries the writer has not indexed yet itself when there are at
# most this many (the writer's lag is INDEX_LAG); more (an index being rebuilt) are read
# from the log instead.
CATCH_UP_MAX = 20_000
MAX_ENTRIES = 250_000
# A bucket's summary is kept once it ended this long ago (late appends of other workers),
# and dropped once it is older than the longest curve (14 days).
SETTLE_SECONDS = 300
KEEP_SECONDS = 15 * 86_400
_ALLOWED = b'"outcome":"allowed"'
_MASKED = b'"outcome":"masked"'
ALERT_MAX_ENTRIES = 5_000_000
_DETECTOR = b'"endpoint":"detect"'
_SECURITY = b'"kind":"security"'
_TS = re.compile(rb'"ts":(-?[0-9.eE+-]+)')


def _holds(conn: Connection, column: Any, needle: bytes) -> Any:
    """SQL: the entry's bytes contain `needle` (SQLite instr, PostgreSQL position on
    bytea); every entry it picks is decoded and checked again."""
    value = literal(needle, LargeBinary)
    if conn.dialect.name == "sqlite":
        return func.instr(column, value) > 0
    return func.position(value.op("IN")(column)) > 0


def _ts(data: bytes) -> float:
    """The entry's time, read from its bytes: the last `"ts":` (keys are sorted and those
    after `ts` hold no object, so a nested `ts` comes earlier; inside a string the quotes
    would be escaped)."""
    at = data.rfind(b'"ts":')
    found = _TS.match(data, at) if at >= 0 else None
    return float(found.group(1)) if found else 0.0


@dataclass(frozen=True)
class Scan:
    """The entries read: newest first, and whether the cap cut the window short."""

    entries: list[tuple[int, dict[str, Any]]]
    scanned: int
    truncated: bool


class RecentActivity:
    def __init__(self, journal: Journal, *, max_entries: int = MAX_ENTRIES) -> None:
        self.journal = journal
        self.max_entries = max_entries
        self._cache: dict[tuple[int, int], Summary] = {}
        self._lock = threading.Lock()

    def _backwards(
        self, since: float, wanted: Callable[[bytes], bool] | None, read: list[int]
    ) -> Iterator[tuple[int, dict[str, Any]] | None]:
        """Entries stamped at or after `since`, newest first; None once the cap is hit.
        With `wanted`, only the entries whose canonical bytes it accepts are decoded (the
        others are counted, their time read from the bytes). `read[0]` counts the entries
        read."""
        self.journal.flush()
        end = self.journal.size()
        t = tables.leaves
        while end > 0:
            start = max(0, end - CHUNK)

            def chunk(c: Connection, a: int = start, b: int = end) -> list[tuple[int, bytes]]:
                q = select(t.c.idx, t.c.entry).where(t.c.idx >= a, t.c.idx < b)
                return [(int(i), bytes(d)) for i, d in c.execute(q.order_by(t.c.idx.desc()))]

            for idx, data in self.journal._query(chunk):
                if read[0] >= self.max_entries:
                    yield None
                    return
                read[0] += 1
                if wanted is not None and not wanted(data):
                    if _ts(data) < since:
                        return
                    continue
                entry = decode(data)
                if float(entry.get("ts", 0.0)) < since:
                    return
                yield idx, entry
            end = start

    def scan(
        self,
        since: float,
        keep: Callable[[dict[str, Any]], bool] | None = None,
        wanted: Callable[[bytes], bool] | None = None,
    ) -> Scan:
        found: list[tuple[int, dict[str, Any]]] = []
        truncated, read = False, [0]
        for item in self._backwards(since, wanted, read):
            if item is None:
                truncated = True
                break
            if keep is None or keep(item[1]):
                found.append(item)
        return Scan(found, read[0], truncated)

    def alerts(
        self, since: float, security_reasons: Collection[str] = (), principal: str | None = None
    ) -> Scan:
        """The detectors' decisions (journal endpoint `detect`: ladder rungs and
        containments) and the security events whose reason is one of `security_reasons`,
        newest first; with `principal`, that principal's only.

        The window's first entry is found by bisection on time (entries are appended in
        time order). `journal_alerts` names the alert entries of the part of the window
        the indexes cover; in any part they do not cover, the database itself picks the
        entries whose canonical bytes (sorted keys, no blanks) name the detector or a
        security event. At most `ALERT_MAX_ENTRIES` of the newest entries are looked at.
        `scanned` counts the entries read from the log to find them."""
        reasons = frozenset(security_reasons)
        end = self._caught_up()
        start = self._first_at(since, end)
        truncated = end - start > ALERT_MAX_ENTRIES
        start = max(start, end - ALERT_MAX_ENTRIES)
        a = tables.alerts

        def indexed(c: Connection) -> tuple[list[tuple[int, int]], list[int]]:
            covered = _covered(c)
            cond = [a.c.leaf >= start, a.c.leaf < end]
            if principal is not None:
                cond.append(a.c.principal == principal)
            which = a.c.detector == 1
            if reasons:
                which = or_(which, a.c.reason.in_(sorted(reasons)))
            leaves = c.execute(select(a.c.leaf).where(*cond, which)).scalars().all()
            return covered, [int(i) for i in leaves]

        covered, leaves = self.journal._query(indexed, index=True)
        rows = self._read_leaves(leaves)
        scanned = 0
        for lo, hi in _gaps(start, end, covered):
            rows += self._alert_rows(lo, hi)
            scanned += hi - lo
        found = []
        # On PostgreSQL the two reads of the index are two snapshots: an entry indexed in
        # between may come from both the index and a gap.
        for idx, data in sorted(dict(rows).items(), reverse=True):
            e = decode(data)
            if e.get("endpoint") == DETECTOR_ENDPOINT or (
                e.get("kind") == "security" and e.get("reason") in reasons
            ):
                if principal is None or e.get("principal") == principal:
                    found.append((idx, e))
        return Scan(found, scanned, truncated)

    def _caught_up(self) -> int:
        """The log's size, once the writer's pending entries are committed and, if few
        enough wait, indexed (by this reader, under the indexes' writer lock)."""
        self.journal.flush()
        end = self.journal.size()
        if 0 < end - self.journal.indexed_size() <= CATCH_UP_MAX:
            self.journal.catch_up_index()
        return end

    def _read_leaves(self, leaves: list[int]) -> list[tuple[int, bytes]]:
        """The entries at `leaves`, as (index, bytes)."""

        def read(c: Connection, part: list[int]) -> list[tuple[int, bytes]]:
            sql = in_sql(c, "idx, entry FROM journal_leaves", "idx", len(part))
            return [(int(i), bytes(d)) for i, d in fetch(c, sql, part)]

        out: list[tuple[int, bytes]] = []
        for k in range(0, len(leaves), CHUNK):
            out += self.journal._query(functools.partial(read, part=leaves[k : k + CHUNK]))
        return out

    def _alert_rows(self, lo: int, hi: int) -> list[tuple[int, bytes]]:
        """The entries in [lo, hi) whose bytes name the detector or a security event."""
        if lo >= hi:
            return []
        t = tables.leaves

        def read(c: Connection) -> list[tuple[int, bytes]]:
            query = (
                select(t.c.idx, t.c.entry)
                .where(
                    t.c.idx >= lo,
                    t.c.idx < hi,
                    or_(_holds(c, t.c.entry, _DETECTOR), _holds(c, t.c.entry, _SECURITY)),
                )
                .order_by(t.c.idx)
            )
            return [(int(i), bytes(d)) for i, d in c.execute(query)]

        return self.journal._query(read)

    def _first_at(self, since: float, end: int) -> int:
        """The index of the first entry stamped at or after `since` (bisection)."""
        lo, hi = 0, end
        while lo < hi:
            mid = (lo + hi) // 2
            if float(self.journal.entry(mid).get("ts", 0.0)) < since:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def curves(
        self,
        since: float,
        until: float,
        bucket: int,
        *,
        principal: str | None = None,
        role: str | None = None,
    ) -> dict[str, Any]:
        """Records and distinct subjects disclosed per `bucket` seconds in [since, until):
        for one principal, one role, or the whole service; beside them the peers' mean per
        principal (the principal's role, or the role's principals). Hourly and daily buckets
        come from their counts when the indexes cover the log, the others from the log."""
        starts = list(range(int(since // bucket * bucket), int(until), bucket))
        head = {
            "principal": principal,
            "role": role,
            "bucket_seconds": bucket,
            "since": since,
            "until": until,
        }
        span = next((s for s in tables.SPANS if s.seconds == bucket), None)
        if span is not None and starts:
            indexed = self._indexed(starts, principal, role, span)
            if indexed is not None:
                peer_role, series = indexed
                return {
                    **head,
                    "peer_role": peer_role,
                    "series": series,
                    "scanned": 0,
                    "truncated": False,
                }
        sums, scanned, truncated = self._summaries(starts, bucket, until)
        peer_role = role
        if principal is not None:
            for s in reversed(starts):
                if principal in sums[s].principals:
                    peer_role = sums[s].principals[principal][0]
                    break
        series = []
        for s in starts:
            summary = sums[s]
            if principal is not None:
                _, records, subjects = summary.principals.get(principal, ("", 0, 0))
            elif role is not None:
                records, subjects = summary.roles.get(role, (0, 0))
            else:
                records, subjects = summary.total
            group = [
                (r, n)
                for who, (its_role, r, n) in summary.principals.items()
                if (principal is not None or role is not None)
                and its_role == peer_role
                and who != principal
            ]
            k = len(group)
            series.append(
                {
                    "start": s,
                    "records": records,
                    "subjects": subjects,
                    "peer_records": sum(r for r, _ in group) / k if k else 0.0,
                    "peer_subjects": sum(n for _, n in group) / k if k else 0.0,
                    "peers": k,
                }
            )
        return {
            **head,
            "peer_role": peer_role,
            "series": series,
            "scanned": scanned,
            "truncated": truncated,
        }

    def _indexed(
        self, starts: list[int], principal: str | None, role: str | None, span: tables.Span
    ) -> tuple[str | None, list[dict[str, Any]]] | None:
        """`curves` from the span's counts (journal_activity, journal_activity_daily):
        (peer role, series), or None when the indexes do not cover the whole log."""
        end = self._caught_up()
        t = span.counts
        at = t.c[span.column]

        def read(c: Connection) -> list[Any] | None:
            if _covered(c)[0][1] < end:
                return None
            cond = [at >= starts[0], at <= starts[-1]]
            if principal is None:
                cond.append(t.c.level != tables.PRINCIPAL)
            else:
                cond.append(or_(t.c.level != tables.PRINCIPAL, t.c.name == principal))
            cols = (at, t.c.level, t.c.name, t.c.role, t.c.records, t.c.subjects)
            return list(c.execute(select(*cols, t.c.principals).where(*cond)))

        found = self.journal._query(read, index=True)
        if found is None:
            return None
        rows: dict[tuple[int, int, str], tuple[str, int, int, int]] = {
            (int(h), int(lvl), str(name)): (str(r), int(rec), int(sub), int(k))
            for h, lvl, name, r, rec, sub, k in found
        }
        peer_role = role
        if principal is not None:
            for s in reversed(starts):
                if (s, tables.PRINCIPAL, principal) in rows:
                    peer_role = rows[(s, tables.PRINCIPAL, principal)][0]
                    break
        series = []
        for s in starts:
            if principal is not None:
                key = (s, tables.PRINCIPAL, principal)
            elif role is not None:
                key = (s, tables.ROLE, role)
            else:
                key = (s, tables.ALL, "")
            own_role, records, subjects, _ = rows.get(key, ("", 0, 0, 0))
            peer_records = peer_subjects = k = 0
            if (principal is not None or role is not None) and peer_role is not None:
                _, peer_records, peer_subjects, k = rows.get(
                    (s, tables.PEERS, peer_role), ("", 0, 0, 0)
                )
                if principal is not None and key in rows and own_role == peer_role:
                    peer_records, peer_subjects, k = (
                        peer_records - records,
                        peer_subjects - subjects,
                        k - 1,
                    )
            series.append(
                {
                    "start": s,
                    "records": records,
                    "subjects": subjects,
                    "peer_records": peer_records / k if k else 0.0,
                    "peer_subjects": peer_subjects / k if k else 0.0,
                    "peers": k,
                }
            )
        return peer_role, series

    def _summaries(
        self, starts: list[int], bucket: int, until: float
    ) -> tuple[dict[int, Summary], int, bool]:
        """Each bucket's summary: from this process's cache for buckets complete some
        minutes ago (entries never change), the others read from the log, newest runs of
        missing buckets first, at most `max_entries` entries in all. A bucket is kept once
        it is settled and was read whole; one the cap cut short is shown as read and
        completed by the next view."""
        with self._lock:
            sums = {s: self._cache[(bucket, s)] for s in starts if (bucket, s) in self._cache}
        missing = [s for s in starts if s not in sums]
        if not missing:
            return sums, 0, False
        self.journal.flush()
        size = self.journal.size()
        runs: list[list[int]] = []
        for s in missing:
            if runs and runs[-1][-1] + bucket == s:
                runs[-1].append(s)
            else:
                runs.append([s])
        open_: dict[int, _Open] = {s: _Open() for s in missing}
        whole: set[int] = set()
        left, truncated = self.max_entries, False
        for run in reversed(runs):
            lo = self._first_at(float(run[0]), size)
            end = run[-1] + bucket
            hi = size if end >= until else self._first_at(float(end), size)
            first = max(lo, hi - left)
            for e in self._forward(first, hi):
                ts = float(e.get("ts", 0.0))
                if e.get("outcome") in REVEALING and e.get("kind") != "admin" and ts < until:
                    slot = open_.get(int(ts // bucket * bucket))
                    if slot is not None:
                        slot.add(e)
            left -= hi - first
            if first == lo:
                whole.update(run)
            else:
                truncated = True
                # Entries are in time order: the buckets after the first one read are whole.
                cut = _ts(self._raw(first)) if first < size else float("inf")
                whole.update(s for s in run if s > cut)
            if left <= 0:
                break
        settled = until - SETTLE_SECONDS
        with self._lock:
            for s, slot in open_.items():
                sums[s] = summary = slot.close()
                if s in whole and s + bucket <= settled:
                    self._cache[(bucket, s)] = summary
            for key in [k for k in self._cache if k[1] < until - KEEP_SECONDS]:
                del self._cache[key]
        return sums, self.max_entries - max(left, 0), truncated

    def _forward(self, lo: int, hi: int) -> Iterator[dict[str, Any]]:
        """Entries [lo, hi) that disclosed something (by their bytes), decoded, in order."""
        t = tables.leaves
        for a in range(lo, hi, CHUNK):

            def chunk(c: Connection, a: int = a) -> list[bytes]:
                q = select(t.c.entry).where(t.c.idx >= a, t.c.idx < min(a + CHUNK, hi))
                return [bytes(d) for d in c.execute(q.order_by(t.c.idx)).scalars()]

            for data in self.journal._query(chunk):
                if _ALLOWED in data or _MASKED in data:
                    yield decode(data)

    def _raw(self, index: int) -> bytes:
        t = tables.leaves
        q = select(t.c.entry).where(t.c.idx == index)
        return bytes(self.journal._query(lambda c: c.execute(q).scalar_one()))


def _covered(conn: Connection) -> list[tuple[int, int]]:
    """The runs [lo, hi) of entries the indexes hold, in order (a connection to them)."""
    runs = [(0, store.indexed_size(conn))]
    return runs + [
        (int(lo), int(hi))
        for lo, hi in conn.execute(
            select(tables.index_ranges.c.lo, tables.index_ranges.c.hi).order_by(
                tables.index_ranges.c.lo
            )
        )
    ]


def _gaps(lo: int, hi: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [lo, hi) outside the `covered` runs (ascending)."""
    out = []
    for a, b in covered:
        if a > lo:
            out.append((lo, min(a, hi)))
        lo = max(lo, b)
        if lo >= hi:
            break
    if lo < hi:
        out.append((lo, hi))
    return [(a, b) for a, b in out if a < b]


@dataclass(frozen=True)
class Summary:
    """One bucket: per principal (role, records, distinct subjects), per role and in
    all (records, distinct subjects)."""

    principals: dict[str, tuple[str, int, int]]
    roles: dict[str, tuple[int, int]]
    total: tuple[int, int]


class _Open:
    def __init__(self) -> None:
        self.principals: dict[str, list[Any]] = {}
        self.roles: dict[str, list[Any]] = defaultdict(lambda: [0, set()])
        self.records = 0
        self.subjects: set[str] = set()

    def add(self, e: dict[str, Any]) -> None:
        records, subjects = int(e.get("records", 0)), e.get("subjects", [])
        role = str(e.get("role") or "")
        mine = self.principals.setdefault(str(e.get("principal")), [role, 0, set()])
        mine[1] += records
        mine[2].update(subjects)
        theirs = self.roles[role]
        theirs[0] += records
        theirs[1].update(subjects)
        self.records += records
        self.subjects.update(subjects)

    def close(self) -> Summary:
        return Summary(
            {p: (v[0], v[1], len(v[2])) for p, v in self.principals.items()},
            {r: (v[0], len(v[1])) for r, v in self.roles.items()},
            (self.records, len(self.subjects)),
        )
