"""Peer baseline: a robust z-score of a principal's volume and breadth today against the
finished days of the other principals of its role over the last days (median and MAD,
Iglewicz & Hoaglin's modified z-score). A slow, steady harvester stands out against its
peers even when it stays under every fixed budget."""

from __future__ import annotations

from collections import deque
from statistics import median
from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports
from strongroom.detect.signals import Signal

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent

POOL_SIZE = 4096
RECOMPUTE_SECONDS = 60.0


def robust(values: list[float]) -> tuple[float, float]:
    """Median and MAD scaled to a standard deviation (x 1.4826), floored so a role whose
    members all read the same amount does not turn a small excess into a huge z."""
    med = median(values)
    mad = median(abs(v - med) for v in values) * 1.4826
    return med, max(mad, 1.0, 0.1 * med)


class _RolePool:
    __slots__ = ("days", "stats", "computed_at", "dirty")

    def __init__(self) -> None:
        self.days: deque[tuple[int, int, float, float]] = deque(maxlen=POOL_SIZE)
        self.stats: tuple[int, float, float, float, float] | None = None
        self.computed_at = 0.0
        self.dirty = False


class Peers(Detector[None]):
    name = "peer"
    family = "peer"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.z = float(config.param("peer", "zscore"))
        self.min_peers = int(config.param("peer", "min_peers"))
        self.window_days = max(1, int(float(config.param("peer", "window_seconds")) // 86_400))
        self.min_value = float(config.param("peer", "min_value"))
        self.cap = config.family_caps["peer"]
        self.pools: dict[str, _RolePool] = {}

    def close_day(self, principal: str, st: PrincipalState, mine: None, day: int) -> None:
        """The finished day joins its role's pool (a day without reads does not)."""
        if not (st.records_day or st.distinct_est):
            return None
        pool = self.pools.get(st.role)
        if pool is None:
            pool = self.pools[st.role] = _RolePool()
        pool.days.append((st.day, hash(principal), st.distinct_est, st.records_day))
        pool.dirty = True
        return None

    def _stats(
        self, role: str, today: int, now: float
    ) -> tuple[int, float, float, float, float] | None:
        pool = self.pools.get(role)
        if pool is None:
            return None
        if pool.dirty and (pool.stats is None or now - pool.computed_at >= RECOMPUTE_SECONDS):
            recent = [d for d in pool.days if today - self.window_days <= d[0] < today]
            peers = len({d[1] for d in recent})
            if recent:
                md, sd = robust([d[2] for d in recent])
                mr, sr = robust([d[3] for d in recent])
                pool.stats = (peers, md, sd, mr, sr)
            pool.computed_at = now
            pool.dirty = False
        return pool.stats

    def observe(self, ev: AccessEvent, st: PrincipalState, mine: None, now: float) -> Signal | None:
        if ev.records <= 0 and not st.grew:
            return None
        stats = self._stats(ev.role, st.day, now)
        if stats is None or stats[0] < self.min_peers:
            return None
        peers, md, sd, mr, sr = stats
        z_d = (st.distinct_est - md) / sd if st.distinct_est >= self.min_value else 0.0
        z_r = (st.records_day - mr) / sr if st.records_day >= self.min_value else 0.0
        z = max(z_d, z_r)
        if z < self.z:
            return None
        return Signal(
            "peer",
            self.name,
            min(self.cap, 25.0 + 2.0 * (z - self.z)),
            "far above the role's peers today",
            {
                "z_distinct": round(z_d, 1),
                "z_records": round(z_r, 1),
                "peers": peers,
                "median_distinct": md,
            },
        )
