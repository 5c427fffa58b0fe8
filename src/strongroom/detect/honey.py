"""Honey records: canary subjects no legitimate task needs. Any read of one is critical at
once; the registry keeps canaries keyed (HMAC marks), the engine only asks `is_canary`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports
from strongroom.detect.signals import Signal

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent


class Honey(Detector[None]):
    name = "honey"
    family = "honey"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.is_canary = ports.is_canary
        self.score = float(config.param("honey", "risk"))

    def observe(self, ev: AccessEvent, st: PrincipalState, mine: None, now: float) -> Signal | None:
        hits = sum(1 for s in ev.subjects if self.is_canary(s))
        if not hits:
            return None
        return Signal("honey", self.name, self.score, "a honey record was read", {"canaries": hits})
