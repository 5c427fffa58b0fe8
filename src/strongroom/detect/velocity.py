"""Velocity: records per minute beyond what a human in the role can read.

A sliding-window estimate (the current minute plus the previous one, weighted by how much
of it still lies in the last 60 seconds) keeps two counters per principal."""

from __future__ import annotations

from strongroom.detect.config import DetectConfig
from strongroom.detect.signals import Signal
from strongroom.detect.state import PrincipalState
from strongroom.events import AccessEvent


class Velocity:
    name = "velocity"
    family = "volume"

    def __init__(self, config: DetectConfig) -> None:
        self.config = config
        self.cap = config.family_caps["volume"]

    def observe(self, ev: AccessEvent, st: PrincipalState, now: float) -> Signal | None:
        minute = int(now // 60)
        if minute != st.minute:
            st.count_prev = st.count_min if minute == st.minute + 1 else 0
            st.count_min = 0
            st.minute = minute
        n = ev.records
        if n <= 0:
            return None
        st.count_min += n
        rate = st.count_min + st.count_prev * (1.0 - (now % 60) / 60.0)
        ceiling = self.config.role(ev.role).records_per_minute
        if rate <= ceiling:
            return None
        ratio = rate / ceiling
        return Signal(
            "volume",
            self.name,
            min(self.cap, 20.0 + 15.0 * (ratio - 1.0)),
            "records per minute above the role's human ceiling",
            {"rate_per_minute": round(rate, 1), "ceiling": ceiling},
        )
