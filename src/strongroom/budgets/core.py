"""`Budgets`: reserve the worst case before a query, settle the real count after it.

reserve() checks every applicable budget in one atomic backend step, all or nothing, and
refuses with TooManyRequests (429, naming the budget, with Retry-After) when an enforcing
budget would be exceeded. settle() gives back the records reserved but not disclosed and
adds the subjects disclosed. Because the worst case is held while the query runs,
concurrent requests cannot together overrun a requests or records budget.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from strongroom import metrics
from strongroom.budgets.backend import AsyncBackend, Backend, Charge, Reading, Settlement, Verdict
from strongroom.budgets.memory import MemoryBackend
from strongroom.budgets.ratelimit_headers import header_pair, seconds
from strongroom.budgets.spec import BudgetKeys, BudgetSpec, applicable
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import TooManyRequests, Unavailable
from strongroom.held import Held

log = logging.getLogger("strongroom.budgets")

Fallback = Literal["closed", "strict_local"]

# Refusals of requests budgets held in the process (see `Budgets._hold`), at most this many
# buckets at once (`held.Held`).
HELD_MAX = 10_000
# A held refusal ends this much before the store's own Retry-After, so float rounding can
# never make it outlast the store's.
HELD_MARGIN = 0.001


@dataclass
class Reservation:
    keys: BudgetKeys
    at: float
    charges: list[Charge]
    readings: list[Reading]
    requests: int
    records: int
    subjects: int
    backend: Backend = field(repr=False)
    settled: bool = False


class Budgets:
    def __init__(
        self,
        specs: Iterable[BudgetSpec],
        backend: Backend | None = None,
        clock: Clock = SYSTEM_CLOCK,
        *,
        fallback: Fallback = "closed",
        workers: int = 1,
        remember_keys: bool = True,
    ) -> None:
        self.specs = tuple(specs)
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise ValueError("budget names must be unique")
        if fallback not in ("closed", "strict_local"):
            raise ValueError("fallback must be 'closed' or 'strict_local'")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.backend: Backend = backend if backend is not None else MemoryBackend()
        self._awaitable = self.backend if isinstance(self.backend, AsyncBackend) else None
        self.clock = clock
        self.fallback = fallback
        self.workers = workers
        # whether each principal's last keys are kept for `state` (the administrators' view)
        self.remember_keys = remember_keys
        self._local = MemoryBackend()
        self._local_specs = {
            s.name: replace(s, limit=max(1, s.limit // workers)) for s in self.specs
        }
        self._remember_ttl = max((s.window_seconds for s in self.specs), default=60)
        self._degraded = threading.Event()
        # (budget, key value) -> (until, units): the shared store refused `units` requests
        # of this bucket, and will until then (`_hold`)
        self._held: Held[tuple[str, str], int] = Held(HELD_MAX)

    # --- the gate's calls ----------------------------------------------------------------
    def reserve(
        self,
        keys: BudgetKeys,
        *,
        requests: int = 1,
        records: int = 0,
        subjects: int = 0,
        min_records: int | None = None,
    ) -> Reservation:
        """Reserve the worst case. With `min_records`, a reservation refused only by record
        budgets is retried once for what they have left, if that is at least
        `min_records`: `reservation.records` then says how many may be disclosed (the
        caller shortens its page to fit)."""
        try:
            try:
                return self._reserve(keys, requests, records, subjects)
            except TooManyRequests as exc:
                fit = exc.extra.get("records_left")
                if min_records is None or fit is None or not min_records <= fit < records:
                    raise
                return self._reserve(keys, requests, fit, subjects)
        except TooManyRequests as refused:
            self._count(refused)
            raise

    async def reserve_requests(self, keys: BudgetKeys, requests: int = 1) -> Reservation:
        """`reserve` of requests alone, for the event loop (the door): a store that can be
        awaited (`AsyncBackend`) is, so the loop serves other requests during the round
        trip; any other is called as is (it keeps its counts in the process)."""
        try:
            charges, now, remember = self._prepare(keys, requests, 0, 0)
            backend = self.backend
            try:
                if self._awaitable is not None:
                    verdict = await self._awaitable.reserve_async(charges, now, remember=remember)
                else:
                    verdict = backend.reserve(charges, now, remember=remember)
                self._reached()
            except Unavailable as exc:
                backend, charges, verdict = self._fall_back(exc, charges, now, remember)
            return self._conclude(keys, now, charges, verdict, backend, requests, 0, 0)
        except TooManyRequests as refused:
            self._count(refused)
            raise

    @staticmethod
    def _count(refused: TooManyRequests) -> None:
        # Counted by the callers of _reserve: a page shortened to fit is not a refusal.
        for name in refused.extra.get("budgets", ()):
            metrics.BUDGET_REFUSALS.labels(budget=name).inc()

    def _reserve(self, keys: BudgetKeys, requests: int, records: int, subjects: int) -> Reservation:
        charges, now, remember = self._prepare(keys, requests, records, subjects)
        backend = self.backend
        try:
            verdict = backend.reserve(charges, now, remember=remember)
            self._reached()
        except Unavailable as exc:
            backend, charges, verdict = self._fall_back(exc, charges, now, remember)
        return self._conclude(keys, now, charges, verdict, backend, requests, records, subjects)

    def _prepare(
        self, keys: BudgetKeys, requests: int, records: int, subjects: int
    ) -> tuple[list[Charge], float, tuple[str, str, int] | None]:
        """The charges of a reservation, its time, and the keys to remember; a refusal the
        process holds (`_hold`) is raised here, before any store is asked."""
        if min(requests, records, subjects) < 0:
            raise ValueError("reservations are never negative")
        amounts = {"requests": requests, "records": records, "subjects": 0}
        charges = [
            Charge(a.spec, a.value, amounts[a.spec.unit]) for a in applicable(self.specs, keys)
        ]
        now = self.clock.now()
        if self._held:
            held = self._held_refusal(charges, now)
            if held is not None:
                raise held
        remember = (
            (keys.principal, json.dumps(vars(keys), sort_keys=True), self._remember_ttl)
            if self.remember_keys
            else None
        )
        return charges, now, remember

    def _reached(self) -> None:
        if self._degraded.is_set():
            self._degraded.clear()
            log.warning("budget store reachable again; shared budgets resume")

    def _fall_back(
        self,
        exc: Unavailable,
        charges: list[Charge],
        now: float,
        remember: tuple[str, str, int] | None,
    ) -> tuple[Backend, list[Charge], Verdict]:
        """The store did not answer: refuse (closed), or apply strict per-process budgets."""
        if self.fallback != "strict_local":
            raise exc
        if not self._degraded.is_set():
            self._degraded.set()
            log.warning(
                "budget store unreachable; strict per-process budgets (limit / %d workers) apply",
                self.workers,
            )
        local = [replace(c, spec=self._local_specs[c.spec.name]) for c in charges]
        return self._local, local, self._local.reserve(local, now, remember=remember)

    def _conclude(
        self,
        keys: BudgetKeys,
        now: float,
        charges: list[Charge],
        verdict: Verdict,
        backend: Backend,
        requests: int,
        records: int,
        subjects: int,
    ) -> Reservation:
        if not verdict.granted:
            if backend is self.backend:
                self._hold(charges, verdict.readings, now)
            raise self._refusal(charges, verdict.readings)
        for c, r in zip(charges, verdict.readings, strict=True):
            if r.would_refuse:
                log.info("shadow budget %s would have refused", c.spec.name)
                metrics.BUDGET_SHADOW_REFUSALS.labels(budget=c.spec.name).inc()
        return Reservation(
            keys, now, charges, verdict.readings, requests, records, subjects, backend
        )

    def settle(self, reservation: Reservation, records: int, subjects: Iterable[str]) -> None:
        if reservation.settled:
            return  # settling twice must not refund twice
        if records < 0:
            raise ValueError("records disclosed cannot be negative")
        reservation.settled = True
        distinct = tuple(dict.fromkeys(str(s) for s in subjects))
        refund = reservation.records - records
        if refund < 0 and any(c.spec.unit == "records" for c in reservation.charges):
            log.warning(
                "settled %d records beyond the %d reserved; charging them",
                -refund,
                reservation.records,
            )
        items: list[Settlement] = []
        positions: list[int] = []
        for j, c in enumerate(reservation.charges):
            if c.spec.unit == "records" and refund:
                items.append(Settlement(c, reservation.at, refund=refund))
            elif c.spec.unit == "subjects" and distinct:
                items.append(Settlement(c, reservation.at, subjects=distinct))
            else:
                continue
            positions.append(j)
        if not items:
            return
        readings = reservation.backend.settle(items, self.clock.now())
        for j, r in zip(positions, readings, strict=True):
            reservation.readings[j] = r

    def headers(self, reservation: Reservation) -> dict[str, str]:
        """RateLimit-Policy and RateLimit for the most constrained enforcing budget."""
        best: tuple[float, float, Charge, Reading] | None = None
        for c, r in zip(reservation.charges, reservation.readings, strict=True):
            if c.spec.shadow:
                continue
            ratio = (c.spec.limit - r.used) / c.spec.limit
            rank = (ratio, -r.reset)
            if best is None or rank < best[:2]:
                best = (ratio, -r.reset, c, r)
        if best is None:
            return {}
        _, _, c, r = best
        return header_pair(
            c.spec.name,
            c.spec.limit,
            c.spec.window_seconds,
            c.spec.unit,
            c.spec.limit - r.used,
            r.reset,
        )

    # --- administration ------------------------------------------------------------------
    def state(self, principal: str, keys: BudgetKeys | None = None) -> dict[str, Any]:
        """Each budget that applies to the principal's last request (or to `keys`): used,
        limit, window, remaining, reset, shadow would-refuse count. Key values (IPs,
        organisation IDs) are not shown, only what kind of key each budget counts."""
        try:
            return self._state(self.backend, self.specs, principal, keys)
        except Unavailable:
            if self.fallback != "strict_local":
                raise
            return self._state(self._local, tuple(self._local_specs.values()), principal, keys)

    @property
    def degraded(self) -> bool:
        """True while the strict per-process fallback stands in for the shared store."""
        return self._degraded.is_set()

    def _state(
        self,
        backend: Backend,
        specs: tuple[BudgetSpec, ...],
        principal: str,
        keys: BudgetKeys | None,
    ) -> dict[str, Any]:
        known = keys is not None
        if keys is None:
            raw = backend.recall(principal)
            if raw is not None:
                keys, known = BudgetKeys(**json.loads(raw)), True
            else:
                keys = BudgetKeys(principal=principal)
        rows = []
        charges = [Charge(a.spec, a.value) for a in applicable(specs, keys)]
        for c, r in zip(charges, backend.read(charges, self.clock.now()), strict=True):
            rows.append(
                {
                    "budget": c.spec.name,
                    "key": c.spec.key,
                    "unit": c.spec.unit,
                    "limit": c.spec.limit,
                    "window_seconds": c.spec.window_seconds,
                    "used": r.used,
                    "remaining": max(0, c.spec.limit - r.used),
                    "reset_seconds": seconds(r.reset),
                    "shadow": c.spec.shadow,
                    "would_refuse": r.would_refuse,
                    "shared": c.spec.key not in ("principal", "session"),
                }
            )
        return {"principal": principal, "known": known, "degraded": self.degraded, "budgets": rows}

    # --- internals -----------------------------------------------------------------------
    def _hold(self, charges: Sequence[Charge], readings: Sequence[Reading], now: float) -> None:
        """Remember, until its Retry-After, each requests budget the shared store refused.
        A refused reservation charges nothing, and a requests count only falls as its
        window moves on (settlements refund records, never requests): until then the store
        would refuse as many requests of that bucket again, so this process refuses them
        itself, a dictionary lookup instead of a round trip. It never refuses what the
        store would grant, and never grants anything."""
        for c, r in zip(charges, readings, strict=True):
            if c.spec.unit == "requests" and not c.spec.shadow and c.amount > 0 and not r.fits:
                self._held.hold((c.spec.name, c.value), now + r.wait - HELD_MARGIN, c.amount, now)

    def _held_refusal(self, charges: Sequence[Charge], now: float) -> TooManyRequests | None:
        """The refusal of the held buckets among `charges`, if any still holds for them."""
        hits: list[Charge] = []
        readings: list[Reading] = []
        for c in charges:
            held = self._held.get((c.spec.name, c.value), now)
            if held is not None and c.amount >= held[1]:
                hits.append(c)
                readings.append(Reading(c.spec.limit, wait=held[0] - now))
        return self._refusal(hits, readings) if hits else None

    def _refusal(self, charges: Sequence[Charge], readings: Sequence[Reading]) -> TooManyRequests:
        pairs = list(zip(charges, readings, strict=True))
        refusing = [(r.wait, c, r) for c, r in pairs if not r.fits and not c.spec.shadow]
        extra: dict[str, Any] = {}
        if all(c.spec.unit == "records" for _, c, _ in refusing):
            extra["records_left"] = min(
                max(0, c.spec.limit - r.used)
                for c, r in pairs
                if c.spec.unit == "records" and not c.spec.shadow
            )
        wait, c, r = max(refusing, key=lambda x: x[0])
        retry = max(1, seconds(wait))
        headers = {
            "Retry-After": str(retry),
            **header_pair(c.spec.name, c.spec.limit, c.spec.window_seconds, c.spec.unit, 0, wait),
        }
        return TooManyRequests(
            f"budget {c.spec.name} exhausted ({c.spec.limit} {c.spec.unit} per "
            f"{c.spec.window_seconds} s); retry in {retry} s",
            reason="budget_exhausted",
            headers=headers,
            extra={
                "budget": c.spec.name,
                "retry_after": retry,
                "budgets": sorted({x[1].spec.name for x in refusing}),
                **extra,
            },
        )
