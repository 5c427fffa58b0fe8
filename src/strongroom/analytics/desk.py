"""The analytics desk: builds and refreshes the release analysts read, and grants their
role. Every build and refresh is journaled (who, which views, how many cells suppressed),
as is every grant.

    build    the first release, or a release after the policy's analytics section changed
    refresh  a new release under unchanged declarations (refused if they changed)

A build counts every person; a refresh applies the persons changed since the last release
(the change log, `changes.py`) to its counts, or counts in full when it cannot and says
why. The ledger makes a refresh consistent with every release before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from psycopg import Error as DriverError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from strongroom.analytics import ledger as ledger_db
from strongroom.analytics.catalogue import TOTAL, Generalizer, column_name, dims_of
from strongroom.analytics.collect import Collected, Collector, PersonValues, today_of
from strongroom.analytics.grants import GrantReport, grant
from strongroom.analytics.pseudonyms import Pseudonymizer, view_key
from strongroom.analytics.sealed import StateKeys
from strongroom.analytics.store import (
    ReleaseRow,
    ViewTable,
    build_lock,
    publish_postgresql,
    publish_sqlite,
)
from strongroom.analytics.suppress import (
    CannotProtect,
    Cell,
    Level,
    PastCell,
    Protection,
    close_levels,
    protect,
    subsets,
)
from strongroom.clock import Clock
from strongroom.context import Caller
from strongroom.errors import BadRequest, Unavailable
from strongroom.policy.model import AnalyticsSpec
from strongroom.vault.envelope import Vault


class JournalPort(Protocol):
    def record_admin(
        self, caller: Caller, action: str, *, reason: str, detail: dict[str, Any] | None = None
    ) -> int: ...


@dataclass(frozen=True)
class BuildMode:
    """Each defence can be switched off, for the tests that show what it prevents; the
    command line always builds with all three."""

    complementary: bool = True  # hide complements, not only the small cells
    linked: bool = True  # one audit per population across its views (else view by view)
    ledger: bool = True  # remember suppressions across releases


@dataclass
class ViewReport:
    name: str
    kind: str
    rows: int  # rows written (cells, or persons for a row view)
    suppressed: int  # cells shown suppressed, or classes withheld from a row view
    withheld: int = 0  # persons left out of a row view


@dataclass
class BuildReport:
    release: int
    action: str
    k: int
    target: str
    views: list[ViewReport]
    primary: int
    complements: int
    seconds: float
    already_published: int = 0
    persons: int = 0
    counted: str = "full"  # full | incremental
    why_full: str | None = None  # why a refresh counted in full
    recounted: int = 0  # persons read from the registry
    counting_seconds: float = 0.0  # of `seconds`: the counts (the rest: audit, publication)

    @property
    def suppressed(self) -> int:
        return sum(v.suppressed for v in self.views)

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "action": self.action,
            "k": self.k,
            "target": self.target,
            "persons": self.persons,
            "seconds": round(self.seconds, 3),
            "suppressed": self.suppressed,
            "primary": self.primary,
            "complements": self.complements,
            "already_published": self.already_published,
            "counted": self.counted,
            "why_full": self.why_full,
            "recounted": self.recounted,
            "counting_seconds": round(self.counting_seconds, 3),
            "views": [v.__dict__ for v in self.views],
        }


@dataclass
class _Group:
    """One suppression audit: a universe (every view of it), or one view."""

    name: str
    universe: str
    published: set[Level]
    levels: set[Level] = field(default_factory=set)


class AnalyticsDesk:
    def __init__(
        self,
        *,
        journal: JournalPort,
        engine: Engine,
        vault: Vault,
        pseudonym_key: bytes,
        honey_key: bytes,
        spec: AnalyticsSpec,
        analytics_path: Path,
        clock: Clock,
    ) -> None:
        self.journal = journal
        self.engine = engine
        self.vault = vault
        self.pseudonym_key = pseudonym_key
        self.honey_key = honey_key
        self.spec = spec
        self.analytics_path = analytics_path
        self.clock = clock
        self.gen = Generalizer.from_policy(spec.quasi_identifiers)

    @property
    def postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def target(self) -> str:
        return "schema analytics" if self.postgresql else str(self.analytics_path)

    def signature(self) -> dict[str, Any]:
        return {
            "k": self.spec.k,
            "generalizations": self.gen.signature(),
            "views": {
                name: {"universe": v.universe, "kind": v.kind, "dims": list(v.dims)}
                for name, v in sorted(self.spec.views.items())
            },
        }

    def last_release(self) -> ledger_db.Release | None:
        try:
            with self.engine.connect() as conn:
                return ledger_db.last_release(conn)
        except SQLAlchemyError as exc:
            raise Unavailable(
                f"the registry database is unavailable: {type(exc).__name__}"
            ) from exc

    # --- build -------------------------------------------------------------------------
    def build(
        self,
        caller: Caller,
        *,
        refresh: bool = False,
        regeneralize: bool = False,
        mode: BuildMode | None = None,
    ) -> BuildReport:
        mode = mode or BuildMode()
        if not self.spec.views:
            raise BadRequest("the policy declares no analytics views (analytics.views)")
        started = time.perf_counter()
        try:
            with build_lock(self.engine, self.analytics_path.with_suffix(".lock")):
                report = self._build(caller, refresh=refresh, regeneralize=regeneralize, mode=mode)
        except SQLAlchemyError as exc:
            raise Unavailable(f"the analytics build failed: {type(exc).__name__}") from exc
        except OSError as exc:  # analytics.db or its lock: disk full, permissions
            raise Unavailable(f"cannot write the analytics release: {exc}") from exc
        report.seconds = time.perf_counter() - started
        self.journal.record_admin(
            caller,
            f"analytics {report.action}",
            reason=f"analytics_{'refreshed' if refresh else 'built'}",
            detail={
                "release": report.release,
                "k": report.k,
                "target": report.target,
                "views": [v.name for v in report.views],
                "suppressed": {v.name: v.suppressed for v in report.views},
                "withheld_persons": {v.name: v.withheld for v in report.views if v.kind == "rows"},
                "primary": report.primary,
                "complements": report.complements,
                # Releases under two generalizations can be subtracted: who accepted it.
                "regeneralized": regeneralize,
                # How the counts were made: from the changes since the last release, or
                # in full (and why, when a refresh could not apply the changes).
                "counted": report.counted,
                "counted_in_full_because": report.why_full,
                "persons_recounted": report.recounted,
            },
        )
        return report

    def _build(
        self, caller: Caller, *, refresh: bool, regeneralize: bool, mode: BuildMode
    ) -> BuildReport:
        action = "refresh" if refresh else "build"
        signature = self.signature()
        with self.engine.connect() as conn:
            last = ledger_db.last_release(conn)
            ledgers = ledger_db.load(conn) if mode.ledger else {}
            known = ledger_db.load_knowledge(conn) if mode.ledger else {}
        self._check_history(last, signature, refresh=refresh, regeneralize=regeneralize)
        release = 1 if last is None else last.release + 1
        groups = self._groups(mode)
        levels: dict[str, set[Level]] = {}
        for g in groups:
            levels.setdefault(g.universe, set()).update(g.levels)
        today = today_of(self.clock.now())
        holds = any(
            v.universe == "persons" and "holds_weapons" in v.dims for v in self.spec.views.values()
        )
        collector = Collector(
            self.engine,
            self.vault,
            self.honey_key,
            self.gen,
            StateKeys(self.pseudonym_key),
            levels,
            holds_weapons=holds,
        )
        counting = time.perf_counter()
        data = collector.collect(today, release, incremental=refresh)
        counting = time.perf_counter() - counting
        protections: dict[str, Protection] = {}
        for g in groups:
            cells = {lv: data.cells[g.universe].get(lv, {}) for lv in g.levels}
            try:
                protections[g.name] = protect(
                    cells,
                    g.published,
                    self.spec.k,
                    ledgers.get(g.name),
                    known.get(g.name),
                    complementary=mode.complementary,
                )
            except CannotProtect as exc:
                raise BadRequest(
                    f"analytics: a small cell of {g.name} ({_describe(exc.cell)}) cannot be "
                    "protected by suppressing others; remove a dimension or a view over it"
                ) from None
        tables, reports = self._tables(data, collector, groups, protections, release)
        built_at = datetime.fromtimestamp(self.clock.now(), UTC)
        row = ReleaseRow(
            release=release,
            built_at=built_at.isoformat(timespec="seconds"),
            k=self.spec.k,
            generalizations=", ".join(f"{k}: {v}" for k, v in self.gen.signature().items()),
        )
        primary = sum(p.primary for p in protections.values())
        complements = sum(p.complements for p in protections.values())
        record = ledger_db.Release(
            release=release,
            built_at=self.clock.now(),
            built_by=caller.principal_id or "unknown",
            action=action,
            signature=signature,
            suppressed=primary + complements,
        )
        new_ledgers: dict[str, dict[Cell, PastCell]] = {
            name: p.ledger for name, p in protections.items()
        }
        new_known = {name: p.knowledge for name, p in protections.items()}

        def save(conn: Any) -> None:
            ledger_db.save(conn, record, new_ledgers, new_known)
            collector.save(conn, data, release, today)

        if self.postgresql:
            written = publish_postgresql(self.engine, tables, row, save)
        else:
            written = publish_sqlite(self.analytics_path, self.engine, tables, row, save)
        for r in reports:
            r.rows = written.get(r.name, r.rows)
        return BuildReport(
            release=release,
            action=action,
            k=self.spec.k,
            target=self.target,
            views=reports,
            primary=primary,
            complements=complements,
            seconds=0.0,
            already_published=sum(p.already_published for p in protections.values()),
            persons=data.persons,
            counted=data.how,
            why_full=data.why_full,
            recounted=data.recounted,
            counting_seconds=counting,
        )

    def _check_history(
        self,
        last: ledger_db.Release | None,
        signature: dict[str, Any],
        *,
        refresh: bool,
        regeneralize: bool,
    ) -> None:
        if last is None:
            if refresh:
                raise BadRequest("no analytics release yet: run `strongroom analytics build`")
            return
        if refresh and last.signature != signature:
            raise BadRequest(
                f"the policy's analytics section changed since release {last.release}: run "
                "`strongroom analytics build`"
            )
        before = last.signature.get("generalizations") or {}
        now = signature["generalizations"]
        if before != now and not regeneralize:
            changed = ", ".join(
                f"{k} {before.get(k)} -> {v}" for k, v in now.items() if before.get(k) != v
            )
            raise BadRequest(
                f"quasi-identifier generalizations changed since release {last.release} "
                f"({changed}): cells of two releases under different generalizations can be "
                "subtracted (a 40-49 band against a 45-54 one); pass --regeneralize to build "
                "anyway (journaled)"
            )

    def _groups(self, mode: BuildMode) -> list[_Group]:
        groups: dict[str, _Group] = {}
        for name, view in sorted(self.spec.views.items()):
            order = dims_of(view.universe)
            dims = tuple(sorted(view.dims, key=order.index))
            published = set(subsets(dims)) if view.kind == "counts" else {dims}
            key = view.universe if mode.linked else f"{view.universe}:{name}"
            g = groups.setdefault(key, _Group(key, view.universe, set()))
            g.published |= published
        for g in groups.values():
            g.levels = close_levels(g.published, dims_of(g.universe))
        return list(groups.values())

    # --- grant ---------------------------------------------------------------------------
    def grant(self, caller: Caller, role: str, *, password: str | None = None) -> GrantReport:
        """Create or update the analysts' role (PostgreSQL), journaled with what it can
        reach beyond the analytics schema (nothing, or the grant's report says what)."""
        try:
            report = grant(self.engine, role, password=password)
        except (SQLAlchemyError, DriverError) as exc:
            # The server's reason (no CREATEROLE, ...) is what the operator needs.
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise Unavailable(f"granting {role} failed: {reason}") from exc
        self.journal.record_admin(
            caller,
            "analytics grant",
            reason="analytics_granted",
            detail={
                "role": role,
                "login": report.login,
                "created": report.created,
                "tables": report.tables,
                "reach_beyond_analytics": report.reach,
            },
        )
        return report

    # --- tables --------------------------------------------------------------------------
    def _tables(
        self,
        data: Collected,
        collector: Collector,
        groups: list[_Group],
        protections: dict[str, Protection],
        release: int,
    ) -> tuple[list[ViewTable], list[ViewReport]]:
        tables: list[ViewTable] = []
        reports: list[ViewReport] = []
        linked = {g.universe: g.name for g in groups if ":" not in g.name}
        for name, view in sorted(self.spec.views.items()):
            group = linked.get(view.universe, f"{view.universe}:{name}")
            hidden = protections[group].hidden
            order = dims_of(view.universe)
            dims = tuple(sorted(view.dims, key=order.index))
            columns = [column_name(view.universe, d, self.gen) for d in dims]
            cells = data.cells[view.universe]
            if view.kind == "counts":
                rows = list(_count_rows(dims, cells, hidden))
                suppressed = sum(1 for r in rows if r[-1])
                tables.append(ViewTable(name, view.description, "counts", columns, rows))
                reports.append(ViewReport(name, "counts", len(rows), suppressed))
            else:
                shut = {key for (lv, key) in hidden if lv == dims}
                by = cells.get(dims, {})
                withheld = sum(by[key].n for key in shut if key in by)
                people = collector.person_rows(data.counts)
                out = self._person_rows(name, dims, people, shut, release)
                tables.append(ViewTable(name, view.description, "rows", columns, out))
                reports.append(
                    ViewReport(name, "rows", data.persons - withheld, len(shut), withheld)
                )
        return tables, reports

    def _person_rows(
        self,
        name: str,
        dims: Level,
        people: Iterator[tuple[int, PersonValues]],
        withheld: set[tuple[str, ...]],
        release: int,
    ) -> Iterator[tuple[str, ...]]:
        """A row per person outside the withheld classes, as the person table is read:
        the store writes them in pseudonym order, so none of this is held in memory."""
        at = [dims_of("persons").index(d) for d in dims]
        pseudonym = Pseudonymizer(view_key(self.pseudonym_key, name, release))
        for pid, values in people:
            key = tuple(values[i] for i in at)
            if key not in withheld:
                yield (pseudonym(pid), *key)


def _count_rows(
    dims: Level, cells: dict[Level, dict[tuple[str, ...], Any]], hidden: set[Cell]
) -> Iterator[tuple[Any, ...]]:
    hidden_by_level: dict[Level, set[tuple[str, ...]]] = {}
    for lv, key in hidden:
        hidden_by_level.setdefault(lv, set()).add(key)
    for level in sorted(subsets(dims), key=lambda lv: (-len(lv), lv)):
        at = {d: i for i, d in enumerate(level)}
        by = cells.get(level, {})
        shut = hidden_by_level.get(level, set())
        # A hidden cell may have fallen to zero since it was hidden: still listed, still
        # hidden (its row's absence would say zero).
        for key in sorted(set(by) | shut):
            stat = by.get(key)
            n = stat.n if stat is not None else 0
            values = tuple(key[at[d]] if d in at else TOTAL for d in dims)
            if key in shut:
                yield (*values, None, True)
            elif n:
                yield (*values, n, False)


def _describe(cell: Cell) -> str:
    level, key = cell
    return ", ".join(f"{d}={v}" for d, v in zip(level, key, strict=True)) or "total"
