"""Velocity: records per minute beyond what a human in the role can read.

A sliding-window estimate (the current minute plus the previous one, weighted by how much
of it still lies in the last 60 seconds) keeps two counters per principal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports, Slot
from strongroom.detect.signals import Signal

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent


class VelocityState(Slot):
    """The current minute, and the records read in it and in the one before."""

    __slots__ = ("minute", "count_min", "count_prev")

    def __init__(self) -> None:
        self.minute = 0
        self.count_min = 0
        self.count_prev = 0


class Velocity(Detector[VelocityState]):
    name = "velocity"
    family = "volume"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.cap = config.family_caps["volume"]

    def observe(
        self, ev: AccessEvent, st: PrincipalState, mine: VelocityState, now: float
    ) -> Signal | None:
        minute = int(now // 60)
        if minute != mine.minute:
            mine.count_prev = mine.count_min if minute == mine.minute + 1 else 0
            mine.count_min = 0
            mine.minute = minute
        n = ev.records
        if n <= 0:
            return None
        mine.count_min += n
        rate = mine.count_min + mine.count_prev * (1.0 - (now % 60) / 60.0)
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
