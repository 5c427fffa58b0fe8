"""Honey records: canary subjects no legitimate task needs. Any read of one is critical at
once; the registry keeps canaries keyed (HMAC marks), the engine only asks `is_canary`."""

from __future__ import annotations

from collections.abc import Callable

from strongroom.detect.config import DetectConfig
from strongroom.detect.signals import Signal
from strongroom.detect.state import PrincipalState
from strongroom.events import AccessEvent


class Honey:
    name = "honey"
    family = "honey"

    def __init__(self, config: DetectConfig, is_canary: Callable[[str], bool]) -> None:
        self.is_canary = is_canary
        self.score = float(config.param("honey", "risk"))

    def observe(self, ev: AccessEvent, st: PrincipalState, now: float) -> Signal | None:
        hits = sum(1 for s in ev.subjects if self.is_canary(s))
        if not hits:
            return None
        return Signal("honey", self.name, self.score, "a honey record was read", {"canaries": hits})
