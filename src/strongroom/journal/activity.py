"""Recent activity read from the log's tail: the detectors' alerts and the extraction
curves of the security console.

Unlike the investigations (investigate.py), which seek through the side indexes, these
read the newest entries backwards in chunks until the window's start, and never more than
`max_entries` of them: the cost is bounded by that cap, not by the journal's size, and an
answer that stopped at the cap says so (`truncated`). At a few thousand entries an hour a
day's window is read whole; a busier service sees its most recent `max_entries`.

Only counts, pseudonymous principal IDs, roles, detector families and risks come out;
subjects are counted (distinct), never listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from strongroom.journal import tables
from strongroom.journal.entry import decode
from strongroom.journal.log import Journal

REVEALING = frozenset({"allowed", "masked"})
DETECTOR_ENDPOINT = "detect"
CHUNK = 5_000
MAX_ENTRIES = 250_000


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

    def _backwards(self, since: float) -> Iterator[tuple[int, dict[str, Any]] | None]:
        """Entries stamped at or after `since`, newest first; None once the cap is hit."""
        self.journal.flush()
        end = self.journal.size()
        read = 0
        t = tables.leaves
        while end > 0:
            start = max(0, end - CHUNK)

            def chunk(c: Connection, a: int = start, b: int = end) -> list[tuple[int, bytes]]:
                q = select(t.c.idx, t.c.entry).where(t.c.idx >= a, t.c.idx < b)
                return [(int(i), bytes(d)) for i, d in c.execute(q.order_by(t.c.idx.desc()))]

            for idx, data in self.journal._query(chunk):
                if read >= self.max_entries:
                    yield None
                    return
                read += 1
                entry = decode(data)
                if float(entry.get("ts", 0.0)) < since:
                    return
                yield idx, entry
            end = start

    def scan(self, since: float, keep: Callable[[dict[str, Any]], bool] | None = None) -> Scan:
        found: list[tuple[int, dict[str, Any]]] = []
        scanned, truncated = 0, False
        for item in self._backwards(since):
            if item is None:
                truncated = True
                break
            scanned += 1
            if keep is None or keep(item[1]):
                found.append(item)
        return Scan(found, scanned, truncated)

    def alerts(self, since: float, security_reasons: Collection[str] = ()) -> Scan:
        """The detectors' decisions (journal endpoint `detect`: ladder rungs and
        containments) and the security events whose reason is one of `security_reasons`,
        newest first."""
        reasons = frozenset(security_reasons)

        def keep(e: dict[str, Any]) -> bool:
            return e.get("endpoint") == DETECTOR_ENDPOINT or (
                e.get("kind") == "security" and e.get("reason") in reasons
            )

        return self.scan(since, keep)

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
        principal (the principal's role, or the role's principals)."""
        scan = self.scan(since)
        starts = list(range(int(since // bucket * bucket), int(until), bucket))
        mine: dict[int, dict[str, Any]] = {s: {"records": 0, "subjects": set()} for s in starts}
        peers: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
        peer_role = role
        if principal is not None:
            for _, e in scan.entries:
                if e.get("principal") == principal and e.get("role"):
                    peer_role = str(e["role"])
                    break
        for _, e in scan.entries:
            ts = float(e.get("ts", 0.0))
            if ts >= until or e.get("outcome") not in REVEALING or e.get("kind") == "admin":
                continue
            slot = int(ts // bucket * bucket)
            if slot not in mine:
                continue
            who, its_role = e.get("principal"), e.get("role")
            selected = (principal is None or who == principal) and (
                role is None or its_role == role
            )
            records, subjects = int(e.get("records", 0)), e.get("subjects", [])
            if selected:
                mine[slot]["records"] += records
                mine[slot]["subjects"].update(subjects)
            is_peer = peer_role is not None and its_role == peer_role and who != principal
            if is_peer and (principal is not None or role is not None):
                per = peers[slot].setdefault(str(who), {"records": 0, "subjects": set()})
                per["records"] += records
                per["subjects"].update(subjects)
        series = []
        for s in starts:
            group = peers.get(s, {})
            n = len(group)
            series.append(
                {
                    "start": s,
                    "records": mine[s]["records"],
                    "subjects": len(mine[s]["subjects"]),
                    "peer_records": (sum(p["records"] for p in group.values()) / n) if n else 0.0,
                    "peer_subjects": (
                        (sum(len(p["subjects"]) for p in group.values()) / n) if n else 0.0
                    ),
                    "peers": n,
                }
            )
        return {
            "principal": principal,
            "role": role,
            "peer_role": peer_role,
            "bucket_seconds": bucket,
            "since": since,
            "until": until,
            "series": series,
            "scanned": scan.scanned,
            "truncated": scan.truncated,
        }
