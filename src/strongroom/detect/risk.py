"""The risk score: one decaying contribution per signal family, summed and capped at 100.

A new signal raises its family to the signal's score, or, when the family is already
there, bumps it by one point (a persistent offender climbs), never past the family's cap.
Each family fades with its own half-life. Kept as functions over two small arrays so the
same code scores principals and IP prefixes."""

from __future__ import annotations

import math

from strongroom.detect.config import DetectConfig
from strongroom.detect.state import Scored
from strongroom.detect.table import FAMILIES, FAMILY_INDEX, N_FAMILIES

BUMP = 1.0
LN2 = math.log(2.0)
HONEY = FAMILY_INDEX["honey"]


class RiskModel:
    def __init__(self, config: DetectConfig) -> None:
        self.caps = [float(config.family_caps[f]) for f in FAMILIES]
        self.rates = [LN2 / float(config.half_life[f]) for f in FAMILIES]
        self.floor = config.family_floor

    def _decayed(self, obj: Scored, i: int, now: float) -> float:
        v = obj.fam_value[i]
        if v <= 0.0:
            return 0.0
        return v * math.exp(-self.rates[i] * max(0.0, now - obj.fam_ts[i]))

    def add(self, obj: Scored, family: str, score: float, now: float) -> None:
        i = FAMILY_INDEX[family]
        v = self._decayed(obj, i, now)
        v = score if score > v else v + BUMP
        obj.fam_value[i] = min(self.caps[i], v)
        obj.fam_ts[i] = now

    def _values(self, obj: Scored, now: float) -> list[float]:
        vals, ts, rates = obj.fam_value, obj.fam_ts, self.rates
        return [
            v * math.exp(-rates[i] * (now - ts[i])) if v > 0.0 else 0.0 for i, v in enumerate(vals)
        ]

    def total(self, obj: Scored, now: float) -> float:
        return min(100.0, sum(self._values(obj, now)))

    def families(self, obj: Scored, now: float) -> tuple[str, ...]:
        """Families contributing at least the floor: what the two-family rule counts."""
        floor = self.floor
        return tuple(f for f, v in zip(FAMILIES, self._values(obj, now), strict=True) if v >= floor)

    def honey(self, obj: Scored, now: float) -> bool:
        return self._decayed(obj, HONEY, now) >= self.floor

    @staticmethod
    def reset(obj: Scored) -> None:
        for i in range(N_FAMILIES):
            obj.fam_value[i] = 0.0
        obj.fired = 0
