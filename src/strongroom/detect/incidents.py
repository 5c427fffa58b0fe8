"""The incident book: one open incident per principal and family, so a detector that fires
on every request of a burst sends one finding and a few updates, never a flood."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from strongroom.detect.ocsf import Incident, finding, severity_id
from strongroom.detect.signals import Signal
from strongroom.detect.sinks import Sink

log = logging.getLogger(__name__)

# An incident left quiet this long is over; the next signal opens a new one.
IDLE_CLOSE_SECONDS = 86_400.0
MAX_OPEN = 50_000


class IncidentBook:
    def __init__(self, sinks: Sequence[Sink], update_seconds: float) -> None:
        self.sinks = tuple(sinks)
        self.update_seconds = update_seconds
        self.open: dict[tuple[str, str], Incident] = {}

    def record(
        self, principal: str, role: str, ip: str | None, sig: Signal, risk: float, now: float
    ) -> Incident:
        key = (principal, sig.family)
        inc = self.open.get(key)
        created = False
        if inc is None or now - inc.last_seen > IDLE_CLOSE_SECONDS:
            if len(self.open) >= MAX_OPEN:
                self._prune(now)
            inc = Incident(
                principal=principal,
                family=sig.family,
                first_seen=now,
                last_seen=now,
                role=role,
                shadow=sig.shadow,
            )
            self.open[key] = inc
            created = True
        inc.last_seen = now
        inc.count += 1
        inc.score = max(inc.score, sig.score)
        inc.risk = risk
        inc.ip = ip or inc.ip
        inc.detectors.add(sig.detector)
        if len(inc.reasons) < 8:
            inc.reasons.add(sig.reason)
        inc.shadow = inc.shadow and sig.shadow
        if created:
            self._emit(inc, "create", now)
        elif (
            severity_id(risk, inc.family) > inc.emitted_severity
            or now - inc.emitted_at >= self.update_seconds
        ):
            self._emit(inc, "update", now)
        return inc

    def note_action(self, principal: str, action: str, risk: float, now: float) -> None:
        """A ladder rung fired: the principal's open incidents say so at once."""
        for (who, _), inc in list(self.open.items()):
            if who == principal:
                inc.actions.append(action)
                inc.risk = max(inc.risk, risk)
                self._emit(inc, "update", now)

    def close(self, principal: str, now: float) -> None:
        for key in [k for k in self.open if k[0] == principal]:
            self._emit(self.open.pop(key), "close", now)

    def of(self, principal: str) -> list[Incident]:
        return [inc for (who, _), inc in self.open.items() if who == principal]

    def _prune(self, now: float) -> None:
        for key, inc in list(self.open.items()):
            if now - inc.last_seen > IDLE_CLOSE_SECONDS:
                del self.open[key]
        while len(self.open) >= MAX_OPEN:
            self.open.pop(next(iter(self.open)))

    def _emit(self, inc: Incident, activity: str, now: float) -> None:
        inc.emitted_at = now
        inc.emitted_severity = severity_id(inc.risk, inc.family)
        if not self.sinks:
            return
        doc = finding(inc, activity, now)
        for sink in self.sinks:
            try:
                sink.emit(doc)
            except Exception as exc:  # noqa: BLE001 - an alert sink never fails a request
                log.warning("alert sink %s failed: %s", type(sink).__name__, type(exc).__name__)
