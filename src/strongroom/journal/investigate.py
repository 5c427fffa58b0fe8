"""Investigations over the journal: what did a principal see, who saw a subject, and the
scope of a breach for a GDPR Art. 33 notification.

Each report reads through the side indexes, never by scanning the log:
`journal_principals(bucket, principal, ts, leaf)` for a principal's window and
`journal_subjects(bucket, skey, leaf)` for one person (one seek per bucket of 16,384
entries: 611 at 10 million), `journal_containments(target, leaf, ts)` for when a principal
was contained.
The indexes trail the log by a few thousand entries (store.py says why): each report
takes the index below `indexed_size` and reads the entries above it directly, so it is
complete. Cost grows with the entries that answer, not with the journal's size.

Data counts as revealed only for outcomes "allowed" and "masked" (a refusal revealed
nothing); timelines count every entry. Categories of data are the prefixes of field names
("identity.family_name" -> "identity").
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from strongroom.journal import store, tables
from strongroom.journal.driver_sql import fetch, in_sql
from strongroom.journal.entry import REVEALING, IndexRows, decode, index_rows
from strongroom.journal.log import Journal

CHUNK = 1_000
READERS = 4  # threads reading entries at once (Investigator._entries)
END = 2**62  # read the log's tail to its end, whatever its size
Tail = tuple[int, dict[str, Any], IndexRows]  # an entry above indexed_size, and its rows
# The administrative action that crypto-shreds a person (gate/administration.py).
ERASE_ENDPOINT = "person erase"

# Who the data subjects are, by the category of data revealed about them.
SUBJECT_CATEGORIES = {
    "identity": "registered owners",
    "address": "registered owners",
    "permit": "permit holders",
    "weapon": "weapon holders",
    "dealer": "dealers",
}


def category(field_name: str) -> str:
    return field_name.split(".", 1)[0]


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def principal_window(
    principal: str, since: float | None, until: float | None
) -> list[ColumnElement[bool]]:
    """journal_principals' rows of `principal` stamped in [since, until)."""
    t = tables.principals
    cond = [t.c.principal == principal]
    if since is not None:
        cond.append(t.c.ts >= since)
    if until is not None:
        cond.append(t.c.ts < until)
    return cond


class Investigator:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def _indexed_and_tail(self, fn: Any) -> tuple[Any, list[Tail]]:
        """`fn(conn, indexed)` over the index below `indexed_size`, and the entries at and
        above it with the rows the index would hold of them (the same `index_rows`, so the
        tail matches exactly what the index would). Index rows below indexed_size are
        complete once it is read (in the same snapshot of the index database), and entries
        never change, so the two parts neither overlap nor leave a gap."""

        def lookup(conn: Connection) -> tuple[int, Any]:
            indexed = store.indexed_size(conn)
            return indexed, fn(conn, indexed)

        indexed, found = self.journal._query(lookup, index=True)
        return found, self.journal._query(
            lambda conn: [
                (idx, e, index_rows(e)) for idx, e in store.read_entries(conn, indexed, END)
            ]
        )

    def _principal_entries(
        self, principal: str, since: float | None, until: float | None
    ) -> Generator[tuple[int, dict[str, Any]]]:
        t = tables.principals
        cond = principal_window(principal, since, until)
        idxs, tail = self._indexed_and_tail(
            lambda c, indexed: (
                c.execute(
                    select(t.c.leaf)
                    .where(t.c.bucket.in_(tables.buckets_below(indexed)), *cond, t.c.leaf < indexed)
                    .order_by(t.c.ts, t.c.leaf)
                )
                .scalars()
                .all()
            )
        )
        yield from self._entries([int(i) for i in idxs], ordered=False)
        for idx, e, rows in tail:
            if (
                rows.principal == principal
                and (since is None or rows.ts >= since)
                and (until is None or rows.ts < until)
            ):
                yield idx, e

    def _entries(
        self, indexes: Sequence[int], *, ordered: bool = True
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The entries at `indexes`, in index order or (ordered=False) in the given order.
        Chunks are read by READERS threads at once, each on its own connection: a large
        journal does not fit in memory, so each entry costs a random read of the disk, and
        a virtual disk serves several at once (SQLite waits for them without the GIL). At
        most READERS chunks are read ahead, so memory stays bounded."""

        def read(part: list[int]) -> dict[int, bytes]:
            return self.journal._query(
                lambda c: {
                    int(i): bytes(data)
                    for i, data in fetch(
                        c, in_sql(c, "idx, entry FROM journal_leaves", "idx", len(part)), part
                    )
                }
            )

        parts = [list(indexes[k : k + CHUNK]) for k in range(0, len(indexes), CHUNK)]
        with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="journal-read") as pool:
            ahead = deque(pool.submit(read, part) for part in parts[:READERS])
            for k, part in enumerate(parts):
                found = ahead.popleft().result()
                if k + READERS < len(parts):
                    ahead.append(pool.submit(read, parts[k + READERS]))
                for idx in part if not ordered else sorted(part):
                    if idx in found:
                        yield idx, decode(found[idx])

    def knows_principal(self, principal: str) -> bool:
        """Whether any entry of the journal, at any time, names this principal."""
        entries = self._principal_entries(principal, None, None)
        try:
            return next(entries, None) is not None
        finally:
            entries.close()

    def principal_report(
        self,
        principal: str,
        since: float | None = None,
        until: float | None = None,
        *,
        bucket: int = 3600,
    ) -> dict[str, Any]:
        """Every subject and field this principal saw in [since, until), by category, with
        an hourly (or `bucket`-second) timeline."""
        rep, _ = self._principal_scan(principal, since, until, bucket)
        return rep

    def principal_page(
        self,
        principal: str,
        since: float | None = None,
        before: int | None = None,
        limit: int = 50,
        *,
        until: float | None = None,
    ) -> dict[str, Any]:
        """One page of a principal's timeline in [since, until), newest first: at most
        `limit` entries below the index `before`, each with what it touched (pseudonymous
        subject IDs, field categories), and how many entries the whole window holds. Only
        the page's entries are read from the log: the window's leaves and count come from
        `journal_principals`, so its cost does not grow with the principal's activity."""
        t = tables.principals
        top = END if before is None else before
        window = principal_window(principal, since, until)

        def lookup(c: Connection, indexed: int) -> tuple[int, list[int]]:
            below = min(indexed, top)
            older = c.execute(
                select(t.c.leaf)
                .where(t.c.bucket.in_(tables.buckets_below(below)), *window, t.c.leaf < below)
                .order_by(t.c.leaf.desc())
                .limit(limit + 1)
            ).scalars()
            total = c.execute(
                select(func.count()).where(
                    t.c.bucket.in_(tables.buckets_below(indexed)), *window, t.c.leaf < indexed
                )
            ).scalar_one()
            return int(total), [int(i) for i in older]

        (total, older), tail = self._indexed_and_tail(lookup)
        mine = [
            (idx, e)
            for idx, e, rows in tail
            if rows.principal == principal
            and (since is None or rows.ts >= since)
            and (until is None or rows.ts < until)
        ]
        newer = [(idx, e) for idx, e in reversed(mine) if idx < top]
        page = (newer + list(self._entries(older, ordered=False)))[: limit + 1]
        more, page = len(page) > limit, page[:limit]
        items = [
            {
                "index": idx,
                "ts": float(e["ts"]),
                "when": iso(float(e["ts"])),
                "endpoint": e.get("endpoint"),
                "outcome": e.get("outcome"),
                "purpose": e.get("purpose"),
                "records": int(e.get("records", 0)),
                "subjects": list(e.get("subjects", [])),
                "categories": sorted({category(f) for f in e.get("fields", [])}),
            }
            for idx, e in page
        ]
        return {
            "principal": principal,
            "since": iso(since),
            "until": iso(until),
            "entries": total + len(mine),
            "items": items,
            "before": items[-1]["index"] if items and more else None,
        }

    def _principal_scan(
        self, principal: str, since: float | None, until: float | None, bucket: int = 3600
    ) -> tuple[dict[str, Any], dict[str, set[str]]]:
        subjects: set[str] = set()
        fields: set[str] = set()
        by_cat: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"entries": 0, "records": 0, "subjects": set()}
        )
        outcomes: Counter[str] = Counter()
        timeline: dict[int, dict[str, int]] = {}
        records = 0
        categories: dict[tuple[str, ...], tuple[str, ...]] = {}  # fields -> their categories
        for _, e in self._principal_entries(principal, since, until):
            outcome = e["outcome"]
            outcomes[outcome] += 1
            start = int(e["ts"] // bucket * bucket)
            slot = timeline.get(start)
            if slot is None:
                slot = timeline[start] = {"entries": 0, "records": 0, "subjects": 0}
            slot["entries"] += 1
            if outcome not in REVEALING:
                continue
            subs = e.get("subjects", ())
            seen = tuple(e.get("fields", ()))
            n = int(e.get("records", 0))
            subjects.update(subs)
            records += n
            slot["records"] += n
            slot["subjects"] += len(subs)
            cats = categories.get(seen)
            if cats is None:
                fields.update(seen)
                cats = categories[seen] = tuple({category(f) for f in seen})
            for cat in cats:
                tally = by_cat[cat]
                tally["entries"] += 1
                tally["records"] += n
                tally["subjects"].update(subs)
        return {
            "principal": principal,
            "since": iso(since),
            "until": iso(until),
            "entries": sum(outcomes.values()),
            "outcomes": dict(outcomes),
            "records": records,
            "subjects": sorted(subjects),
            "fields": sorted(fields),
            "categories": {
                c: {
                    "entries": v["entries"],
                    "records": v["records"],
                    "subjects": len(v["subjects"]),
                }
                for c, v in sorted(by_cat.items())
            },
            "timeline": [{"start": iso(float(k)), **v} for k, v in sorted(timeline.items())],
        }, {c: v["subjects"] for c, v in by_cat.items()}

    def subject_report(self, subject: str) -> dict[str, Any]:
        """Who saw this person's data, which fields, when, for which purpose."""
        s = tables.subjects
        key = tables.subject_key(subject)

        def lookup(c: Connection, indexed: int) -> list[int]:
            return [
                int(i)
                for i in c.execute(
                    select(s.c.leaf)
                    .where(
                        s.c.bucket.in_(tables.buckets_below(indexed)),
                        s.c.skey == key,
                        s.c.leaf < indexed,
                    )
                    .order_by(s.c.leaf)
                ).scalars()
            ]

        idxs, tail = self._indexed_and_tail(lookup)
        found = chain(
            self._entries(idxs), ((idx, e) for idx, e, rows in tail if subject in rows.subjects)
        )
        accesses = []
        by_principal: dict[str, dict[str, Any]] = {}
        erased: dict[str, Any] | None = None
        for idx, e in found:
            if subject not in e.get("subjects", ()):
                continue  # another subject with the same 63-bit key
            if e.get("endpoint") == ERASE_ENDPOINT and e["outcome"] == "allowed":
                # The journal's own record of the erasure: the registry's tombstone may be
                # in another database, and this report reads the journal only.
                erased = {
                    "when": iso(e["ts"]),
                    "by": e["principal"],
                    "why": (e.get("detail") or {}).get("why"),
                    "index": idx,
                }
            revealed = e.get("fields", []) if e["outcome"] in REVEALING else []
            accesses.append(
                {
                    "index": idx,
                    "when": iso(e["ts"]),
                    "principal": e["principal"],
                    "role": e.get("role"),
                    "endpoint": e.get("endpoint"),
                    "outcome": e["outcome"],
                    "purpose": e.get("purpose"),
                    "justification": e.get("justification"),
                    "case": e.get("case"),
                    "fields": revealed,
                }
            )
            p = by_principal.setdefault(
                e["principal"],
                {
                    "role": e.get("role"),
                    "accesses": 0,
                    "fields": set(),
                    "purposes": set(),
                    "first": e["ts"],
                    "last": e["ts"],
                },
            )
            p["accesses"] += 1
            p["fields"].update(revealed)
            if e.get("purpose"):
                p["purposes"].add(e["purpose"])
            p["first"], p["last"] = min(p["first"], e["ts"]), max(p["last"], e["ts"])
        return {
            "subject": subject,
            "erased": erased,
            "accesses": accesses,
            "principals": {
                k: {
                    **v,
                    "fields": sorted(v["fields"]),
                    "purposes": sorted(v["purposes"]),
                    "first": iso(v["first"]),
                    "last": iso(v["last"]),
                }
                for k, v in sorted(by_principal.items())
            },
        }

    def containment_time(self, principal: str, since: float | None) -> float | None:
        c = tables.containments
        cond = [c.c.target == principal]
        if since is not None:
            cond.append(c.c.ts >= since)
        first, tail = self._indexed_and_tail(
            lambda conn, indexed: conn.execute(
                select(c.c.ts).where(*cond, c.c.leaf < indexed).order_by(c.c.ts).limit(1)
            ).scalar()
        )
        times = [] if first is None else [float(first)]
        times += [
            rows.ts
            for _, _, rows in tail
            if rows.contained == principal and (since is None or rows.ts >= since)
        ]
        return min(times, default=None)

    def breach_report(
        self, principals: Iterable[str], since: float | None = None, until: float | None = None
    ) -> dict[str, Any]:
        """The scope of a breach through `principals` in [since, until): GDPR Art. 33(3)(a)
        categories and approximate numbers of data subjects and records, and when each
        principal was contained (Art. 33(3)(d), measures taken)."""
        subjects: set[str] = set()
        cats: dict[str, set[str]] = defaultdict(set)
        records = 0
        first = last = None
        per: dict[str, Any] = {}
        for principal in sorted(set(principals)):
            rep, cat_subjects = self._principal_scan(principal, since, until)
            subjects.update(rep["subjects"])
            records += rep["records"]
            for cat, subs in cat_subjects.items():
                cats[cat].update(subs)
            if rep["timeline"]:
                first = min(filter(None, [first, rep["timeline"][0]["start"]]))
                last = max(filter(None, [last, rep["timeline"][-1]["start"]]))
            contained = self.containment_time(principal, since)
            per[principal] = {
                "entries": rep["entries"],
                "records": rep["records"],
                "subjects": len(rep["subjects"]),
                "contained_at": iso(contained),
                "categories": sorted(rep["categories"]),
            }
        times = [p["contained_at"] for p in per.values()]
        return {
            "window": {
                "since": iso(since),
                "until": iso(until),
                "first_activity": first,
                "last_activity": last,
            },
            "principals": per,
            "categories_of_data": sorted(cats),
            "categories_of_data_subjects": sorted(
                {SUBJECT_CATEGORIES.get(c, f"{c} subjects") for c in cats}
            ),
            "data_subjects": len(subjects),
            "subjects_by_category": {c: len(v) for c, v in sorted(cats.items())},
            "records": records,
            "contained": bool(per) and all(times),
            "contained_at": max(times) if per and all(times) else None,
        }


def breach_markdown(report: dict[str, Any]) -> str:
    """The breach report as readable Markdown for the data protection officer."""
    w = report["window"]
    lines = [
        "# Personal data breach: scope (GDPR Art. 33)",
        "",
        f"- Window examined: {w['since'] or 'beginning'} to {w['until'] or 'now'}",
        f"- Activity observed: {w['first_activity'] or 'none'} to {w['last_activity'] or 'none'}",
        f"- Data subjects concerned: {report['data_subjects']}",
        f"- Records disclosed: {report['records']}",
        "- Categories of data: " + (", ".join(report["categories_of_data"]) or "none"),
        "- Categories of data subjects: "
        + (", ".join(report["categories_of_data_subjects"]) or "none"),
        "- Contained: "
        + (
            f"yes, at {report['contained_at']}"
            if report["contained"]
            else "NO (at least one principal is not contained)"
        ),
        "",
        "## Accounts involved",
        "",
        "| principal | entries | records | data subjects | categories | contained at |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for name, p in report["principals"].items():
        cats = ", ".join(p["categories"]) or "-"
        lines.append(
            f"| {name} | {p['entries']} | {p['records']} | {p['subjects']} | "
            f"{cats} | {p['contained_at'] or 'not contained'} |"
        )
    lines += ["", "## Data subjects by category of data", ""]
    lines += [f"- {c}: {n}" for c, n in report["subjects_by_category"].items()] or ["- none"]
    lines += [
        "",
        "To complete before notification (Art. 33(3)(b)-(d)): the data protection "
        "officer's contact, the likely consequences, and the measures taken or proposed.",
        "",
    ]
    return "\n".join(lines)
