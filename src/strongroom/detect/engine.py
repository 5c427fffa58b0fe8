"""The detection engine: the gate feeds it every access event after journaling and asks it,
before each request, whether the caller is contained.

    observe(event) -> detectors -> signals -> risk (principal, IP prefix) -> incidents
                   -> ladder -> containments (store + local index) -> actions
    check(principal, session, ip) -> a few dict lookups in the local index

The detectors are the registration table's (`table.py`), built in its order when enabled;
each principal's state holds one slot per built detector. Detector state lives in this
process (per-principal, fixed size); containments live in the `ContainmentStore`, which
every worker re-reads every `sync_seconds`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from strongroom import metrics
from strongroom.clock import Clock
from strongroom.detect.config import DetectConfig, Rung
from strongroom.detect.containment import (
    BLOCKING,
    Action,
    Containment,
    ContainmentIndex,
    ContainmentStore,
    LiftRequest,
    new_containment,
)
from strongroom.detect.detector import Detector, Ports, Slot
from strongroom.detect.feed import FeedUnavailable, RedisEventFeed
from strongroom.detect.incidents import IncidentBook
from strongroom.detect.ladder import due
from strongroom.detect.risk import RiskModel
from strongroom.detect.signals import Signal
from strongroom.detect.sinks import Sink
from strongroom.detect.state import PrincipalState, Scored
from strongroom.detect.table import DETECTORS, NETWORK_FAMILIES
from strongroom.errors import BadRequest, Conflict, NotFound, StrongroomError
from strongroom.events import AccessEvent
from strongroom.netaddr import ip_prefix

log = logging.getLogger(__name__)

IDLE_DAYS = 14
Hooked = tuple[Detector[Any], bool, int]
MAX_PREFIXES = 50_000


class DetectionEngine:
    def __init__(
        self,
        config: DetectConfig,
        *,
        clock: Clock,
        store: ContainmentStore,
        is_canary: Callable[[str], bool],
        sinks: Iterable[Sink] = (),
        revoke_principal: Callable[[str], Any] | None = None,
        on_action: Callable[[Action], Any] | None = None,
        feed: RedisEventFeed | None = None,
    ) -> None:
        self.config = config
        self.feed = feed
        self._following: threading.Thread | None = None
        self._stop_following = threading.Event()
        self.clock = clock
        self.store = store
        self.revoke_principal = revoke_principal
        self.on_action = on_action
        self.risk_model = RiskModel(config)
        self.incidents = IncidentBook(tuple(sinks), config.incident_update_seconds)
        self.states: dict[str, PrincipalState] = {}
        self.prefixes: dict[str, Scored] = {}
        self._lock = threading.RLock()
        self._day = -1
        self._unstored: list[Containment] = []
        self._replaying = False
        self._mirroring = False
        ports = Ports(is_canary=is_canary, is_suspended=self._suspended)
        built = [
            (e.detector(config, ports), e.state)
            for e in DETECTORS
            if config.detector(e.name).enabled
        ]
        # Each detector's slot in a principal's state: built[i] owns slots[i].
        self._slot_factories: tuple[Callable[[], Slot | None], ...] = tuple(s for _, s in built)
        self._slot_of = {d.name: i for i, (d, _) in enumerate(built)}
        # (detector, shadow, its slot index), for each hook a detector overrides.
        self.detectors: list[Hooked] = []
        self._day_closers: list[Hooked] = []
        for i, (d, _) in enumerate(built):
            shadow = config.detector(d.name).shadow
            if d.overrides("observe"):
                self.detectors.append((d, shadow, i))
            if d.overrides("close_day"):
                self._day_closers.append((d, shadow, i))
        self._rungs = [r for r in config.responses if r.action != "block_ip_prefix"]
        self._prefix_rungs = [r for r in config.responses if r.action == "block_ip_prefix"]
        self._principal_rung = next(
            (r for r in self._rungs if r.action == "suspend_principal" and not r.shadow), None
        )
        now = clock.now()
        self.index = ContainmentIndex(store.active(now))
        self._synced = now

    # --- the gate's two calls ----------------------------------------------------------
    def check(
        self,
        principal: str,
        session: str | None = None,
        ip: str | None = None,
        *,
        auth_time: float | None = None,
    ) -> Containment | None:
        """The most severe containment that applies to this request, or None. A step-up
        containment is satisfied by an authentication (`auth_time`) after it was decided."""
        now = self.clock.now()
        if now - self._synced >= self.config.sync_seconds:
            self._sync(now)
        idx = self.index
        best: Containment | None = None
        for c in (
            idx.by_principal.get(principal),
            idx.by_session.get(session) if session else None,
            idx.by_prefix.get(ip_prefix(ip) or "") if ip and idx.by_prefix else None,
        ):
            if c is None or not c.active(now):
                continue
            if c.action == "step_up" and auth_time is not None and auth_time >= c.created_at:
                continue
            if best is None or BLOCKING[c.action] > BLOCKING[best.action]:
                best = c
        return best

    def observe(self, event: AccessEvent) -> list[Action]:
        if event.kind != "access":
            return []
        if self.feed is None:
            return self._observe(event)
        with self._lock:
            try:
                others = self.feed.exchange(event)
            except FeedUnavailable as exc:
                # Budgets in the same Redis fail closed; detection goes on with what this
                # worker sees.
                log.warning("detection feed unavailable (%s): judging alone", exc)
                others = []
            self._follow(others)
            return self._observe(event)

    def follow(self) -> int:
        """Take in what other workers' detectors saw since this one last looked (an idle
        worker keeps up, so its next request is judged on the whole picture)."""
        if self.feed is None:
            return 0
        with self._lock:
            try:
                others = self.feed.poll()
            except FeedUnavailable:
                return 0
            self._follow(others)
            return len(others)

    def start_following(self, interval: float = 0.2) -> None:
        """Follow the feed in a background thread until `close`."""
        if self.feed is None or self._following is not None:
            return

        def run() -> None:
            while not self._stop_following.wait(interval):
                try:
                    while self.follow() >= 1000:
                        pass
                except Exception as exc:  # noqa: BLE001 - the next request follows anyway
                    log.warning("following the detection feed failed: %s", type(exc).__name__)

        self._following = threading.Thread(target=run, name="detection-feed", daemon=True)
        self._following.start()

    def close(self) -> None:
        self._stop_following.set()
        if self._following is not None:
            self._following.join(timeout=5)

    def _follow(self, others: list[AccessEvent]) -> None:
        """Replay other workers' events, deciding nothing: the worker whose event crossed a
        threshold contains (stores, alerts, revokes); this one only mirrors the
        containment in its own index."""
        self._replaying = self._mirroring = True
        try:
            for ev in others:
                self._observe(ev)
        finally:
            self._replaying = self._mirroring = False

    def _observe(self, event: AccessEvent) -> list[Action]:
        if event.kind != "access":
            return []
        if event.detail.get("own_records") or event.detail.get("approved_export"):
            # Neither an owner's own record nor the rows of an export a second person
            # approved are reads an agent makes one by one: the volume detectors would see
            # a renewal list's hundreds of rows in one minute, and the peer baseline a day
            # far above its role's (in a simulated month, 86 prefecture agent-days
            # suspended for their renewal lists). Exports answer to the desk's four eyes,
            # watermarks and traces; the journal keeps their rows.
            event = replace(event, subjects=(), records=0)
        now = event.ts
        with self._lock:
            day = int(now // 86_400)
            if day != self._day:
                self._new_day(day)
            st = self.states.get(event.principal)
            if st is None:
                slots = tuple(make() for make in self._slot_factories)
                st = self.states[event.principal] = PrincipalState(event.role, day, slots)
            st.role = event.role
            signals: list[Signal] = []
            if day != st.day:
                self._close_day(event.principal, st, day, signals)
            st.count(event.records, event.subjects)
            slots = st.slots
            for detector, shadow, i in self.detectors:
                sig = detector.observe(event, st, slots[i], now)
                if sig is not None:
                    sig.shadow = shadow
                    signals.append(sig)
            if not signals:
                return []
            for sig in signals if not self._replaying else ():
                metrics.DETECTIONS.labels(
                    family=sig.family, detector=sig.detector, shadow=metrics.flag(sig.shadow)
                ).inc()
            return self._respond(event, st, signals, now)

    def replay(self, events: Iterable[AccessEvent], lifted: Iterable[Containment] = ()) -> int:
        """Rebuild what the detectors remember from past events (the journal's last
        IDLE_DAYS: a restarted server knows what its predecessor knew), deciding nothing:
        no containment stored, no alert sent, no token revoked; those happened already.
        Containments an administrator lifted reset their principal's risk at the time of
        the lift, as they did live. Returns the number of events replayed."""
        lifts = sorted(
            (c for c in lifted if c.lifted_at is not None), key=lambda c: c.lifted_at or 0.0
        )
        k = n = 0
        self._replaying = True
        try:
            for event in events:
                while k < len(lifts) and (lifts[k].lifted_at or 0.0) <= event.ts:
                    self._forgive(lifts[k], lifts[k].lifted_at or 0.0)
                    k += 1
                self._observe(event)
                n += 1
            for c in lifts[k:]:
                self._forgive(c, c.lifted_at or 0.0)
        finally:
            self._replaying = False
        return n

    def throttle_factor(self, principal: str) -> float:
        c = self.index.throttles.get(principal)
        if c is None or not c.active(self.clock.now()):
            return 1.0
        return c.factor

    def risk(self, principal: str) -> float:
        st = self.states.get(principal)
        return 0.0 if st is None else self.risk_model.total(st, self.clock.now())

    def prefix_risk(self, ip: str) -> float:
        p = self.prefixes.get(ip_prefix(ip) or "")
        return 0.0 if p is None else self.risk_model.total(p, self.clock.now())

    def slot(self, principal: str, detector: str) -> Slot | None:
        """A detector's own state for this principal (None: no state, or not running)."""
        st = self.states.get(principal)
        i = self._slot_of.get(detector)
        return None if st is None or i is None else st.slots[i]

    def state_size_bytes(self, principal: str) -> int:
        st = self.states.get(principal)
        return 0 if st is None else st.nbytes()

    def alert(
        self,
        principal: str,
        role: str | None,
        ip: str | None,
        *,
        family: str,
        reason: str,
        score: float,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """A finding decided outside the detectors (a sign-in lock): it leaves through
        the alert sinks as an incident of its own family, and touches neither the risk
        score nor the ladder, since its own component has already acted."""
        sig = Signal(family, family, score, reason, dict(detail or {}))
        with self._lock:
            self.incidents.record(principal, role or "unknown", ip, sig, score, self.clock.now())

    # --- administration ----------------------------------------------------------------
    def list_containments(self, *, include_lifted: bool = True) -> list[Containment]:
        return self.store.list(include_lifted=include_lifted)

    def lift(self, containment_id: str, *, by: str, why: str) -> Containment:
        """Lift a containment (NotFound, Conflict if already lifted). The administrator
        has judged the episode: the principal's (or prefix's) risk starts again from 0."""
        if not why or not why.strip():
            raise BadRequest("lifting a containment needs a reason")
        now = self.clock.now()
        lifted = self.store.lift(containment_id, by=by, why=why, now=now)
        done = [lifted]
        # The episode's other containments (its throttle, the session it was caught in,
        # the prefix block it set off) go with it: a lift that leaves them would not lift.
        # Not the other way round: a network block is lifted for the network's other
        # users, and the principal whose risk set it off stays contained (issue 22: an
        # office let back in must not free the one who reached for a honey record). A
        # four-eyes one goes only with another four-eyes one (a second administrator
        # approved that); one administrator's lift of a throttle must not take it along.
        episode = [] if lifted.scope == "ip_prefix" else self.store.active(now)
        for c in episode:
            if c.principal == lifted.principal and (lifted.four_eyes or not c.four_eyes):
                try:
                    done.append(self.store.lift(c.id, by=by, why=why, now=now))
                except (Conflict, NotFound):
                    continue  # lifted meanwhile by someone else
        with self._lock:
            for c in done:
                self.index.drop(c.id)
                self._forgive(c, now)
        for c in done:
            self._emit(Action("lift", c.principal, now, by=by, why=why, containment=c))
        return lifted

    def containment(self, containment_id: str) -> Containment | None:
        return self.store.get(containment_id)

    def request_lift(self, containment_id: str, *, by: str, why: str) -> LiftRequest:
        """Record a first administrator's request to lift a four-eyes containment (the
        gate checks who may approve it); Conflict if one is pending or it is lifted."""
        if not why or not why.strip():
            raise BadRequest("lifting a containment needs a reason")
        found = self.store.get(containment_id)
        if found is None:
            raise NotFound("no such containment")
        if found.lifted_at is not None:
            raise Conflict("this containment was already lifted")
        return self.store.request_lift(LiftRequest(containment_id, by, self.clock.now(), why))

    def lift_requests(self) -> dict[str, LiftRequest]:
        return self.store.lift_requests()

    # --- internals ---------------------------------------------------------------------
    def _suspended(self, principal: str) -> bool:
        c = self.index.by_principal.get(principal)
        return c is not None and c.action == "suspend_principal" and c.active(self.clock.now())

    def _respond(
        self, ev: AccessEvent, st: PrincipalState, signals: list[Signal], now: float
    ) -> list[Action]:
        rm = self.risk_model
        prefix = ip_prefix(ev.ip)
        pst: Scored | None = None
        for sig in signals:
            if sig.shadow:
                continue
            rm.add(st, sig.family, sig.score, now)
            if prefix is not None and sig.family in NETWORK_FAMILIES:
                pst = pst or self._prefix(prefix)
                rm.add(pst, sig.family, sig.score, now)
        risk = rm.total(st, now)
        for sig in signals:
            if self._replaying:
                break
            self.incidents.record(
                ev.principal, ev.role, ev.ip, sig, sig.score if sig.shadow else risk, now
            )
        if all(sig.shadow for sig in signals):
            return []
        families = rm.families(st, now)
        actions: list[Action] = []

        def active(action: str) -> bool:
            idx = self.index
            c = (
                idx.throttles.get(ev.principal)
                if action == "throttle"
                else idx.by_session.get(ev.session or "")
                if action == "suspend_session"
                else idx.by_principal.get(ev.principal)
            )
            return (
                c is not None
                and c.active(now)
                and BLOCKING.get(c.action, 0) >= BLOCKING.get(action, 0)
            )

        for rung in due(st, self._rungs, risk, families, rm.honey(st, now), active):
            if rung.action == "suspend_session" and self._came_back(ev, now):
                rung = self._principal_rung or rung
            actions.append(self._fire(rung, ev, risk, families, now))
        if pst is not None and prefix is not None and self._prefix_rungs:
            p_risk, p_fams = rm.total(pst, now), rm.families(pst, now)

            def prefix_active(action: str) -> bool:
                c = self.index.by_prefix.get(prefix)
                return c is not None and c.active(now)

            for rung in due(
                pst, self._prefix_rungs, p_risk, p_fams, rm.honey(pst, now), prefix_active
            ):
                actions.append(self._fire(rung, ev, p_risk, p_fams, now, prefix=prefix))
        return actions

    def _fire(
        self,
        rung: Rung,
        ev: AccessEvent,
        risk: float,
        families: tuple[str, ...],
        now: float,
        prefix: str | None = None,
    ) -> Action:
        c: Containment | None = None
        if rung.action != "alert" and not (rung.action == "suspend_session" and not ev.session):
            expires = None if rung.duration_seconds is None else now + rung.duration_seconds
            c = new_containment(
                rung.action,
                ev.principal,
                now,
                expires_at=expires,
                risk=round(risk, 2),
                families=families,
                factor=rung.factor,
                session=ev.session if rung.action == "suspend_session" else None,
                ip_prefix=prefix,
            )
        if self._replaying:
            if self._mirroring and c is not None and not rung.shadow:
                # Another worker contains and stores it; this one bites at once, until
                # its next sync reads the stored one.
                self.index.put(c)
            return Action(rung.action, ev.principal, now, risk=risk, families=families)
        if c is not None:
            if not rung.shadow:
                self._contain(c)
            metrics.CONTAINMENTS.labels(action=rung.action, shadow=metrics.flag(rung.shadow)).inc()
        action = Action(
            rung.action,
            ev.principal,
            now,
            risk=risk,
            families=families,
            shadow=rung.shadow,
            role=ev.role,
            session=ev.session,
            ip=ev.ip,
            containment=c,
        )
        if rung.action == "suspend_principal" and not rung.shadow and self.revoke_principal:
            try:
                self.revoke_principal(ev.principal)
            except Exception as exc:  # noqa: BLE001 - the suspension itself still stands
                log.error(
                    "token revocation for a suspended principal failed: %s", type(exc).__name__
                )
        self.incidents.note_action(
            ev.principal, rung.action + (":shadow" if rung.shadow else ""), risk, now
        )
        self._emit(action)
        return action

    def _came_back(self, ev: AccessEvent, now: float) -> bool:
        """Whether this principal's other session is suspended while it works on in this
        one: a login that comes back after its session was cut, with the same evidence
        standing, holds the password and the second factor. Suspending one more session
        would not contain it; the principal is suspended instead."""
        for c in self.index.by_session.values():
            if (
                c.principal == ev.principal
                and c.session != ev.session
                and c.action == "suspend_session"
                and c.active(now)
            ):
                return True
        return False

    def _contain(self, c: Containment) -> None:
        # Bite at once in this worker, whatever the store says; others see it on sync.
        self.index.put(c)
        try:
            self.store.add(c)
        except StrongroomError as exc:
            self._unstored.append(c)
            log.error(
                "containment could not be stored (other workers will not see it): %s", exc.detail
            )

    def _emit(self, action: Action) -> None:
        if self.on_action is not None:
            try:
                self.on_action(action)
            except Exception as exc:  # noqa: BLE001 - observers never break detection
                log.warning("on_action callback failed: %s", type(exc).__name__)

    def _forgive(self, c: Containment, now: float) -> None:
        if c.action == "block_ip_prefix" and c.ip_prefix in self.prefixes:
            self.risk_model.reset(self.prefixes[c.ip_prefix])
            return
        st = self.states.get(c.principal)
        if st is not None:
            self.risk_model.reset(st)
        self.incidents.close(c.principal, now)

    def _sync(self, now: float) -> None:
        with self._lock:
            if now - self._synced < self.config.sync_seconds:
                return  # another thread just did it
            self._synced = now
            try:
                items = self.store.active(now)
            except StrongroomError as exc:
                log.warning("containment sync failed; using this worker's view: %s", exc.detail)
                return
            old = self.index
            new = ContainmentIndex(items)
            known = {c.id for c in items}
            for c in self._unstored:
                if c.active(now):
                    new.put(c)
            for table in (old.by_principal, old.by_session, old.by_prefix, old.throttles):
                for c in table.values():
                    if c.id not in known and c.active(now) and c not in self._unstored:
                        # Lifted by an administrator on another worker.
                        self._forgive(c, now)
            self.index = new

    def _prefix(self, prefix: str) -> Scored:
        p = self.prefixes.get(prefix)
        if p is None:
            if len(self.prefixes) >= MAX_PREFIXES:
                self.prefixes.pop(next(iter(self.prefixes)))
            p = self.prefixes[prefix] = Scored()
        return p

    def _close_day(
        self, principal: str, st: PrincipalState, day: int, signals: list[Signal]
    ) -> None:
        for detector, shadow, i in self._day_closers:
            sig = detector.close_day(principal, st, st.slots[i], day)
            if sig is not None:
                sig.shadow = shadow
                signals.append(sig)
        st.new_day(day)

    def _new_day(self, day: int) -> None:
        """Once a day: forget principals idle for two weeks (their state is near zero)."""
        self._day = day
        idle = [p for p, st in self.states.items() if st.day < day - IDLE_DAYS]
        for p in idle:
            del self.states[p]
