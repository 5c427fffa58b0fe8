"""Context: off-hours for the role, and a network (`strongroom.netaddr.ip_prefix`: /24,
/56) or device (user agent) the principal has not used before. Weak alone (the family is
capped low); it corroborates."""

from __future__ import annotations

import sys
import zoneinfo
from datetime import datetime
from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports, Slot
from strongroom.detect.signals import Signal
from strongroom.netaddr import ip_prefix

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent

KNOWN = 4


class ContextState(Slot):
    """Hashes of the last KNOWN networks and devices, and the day off-hours last fired."""

    __slots__ = ("nets", "devices", "offhours_day")

    def __init__(self) -> None:
        self.nets: tuple[int, ...] = ()
        self.devices: tuple[int, ...] = ()
        self.offhours_day = -1

    def nbytes(self) -> int:
        return sys.getsizeof(self) + sys.getsizeof(self.nets) + sys.getsizeof(self.devices)


class Context(Detector[ContextState]):
    name = "context"
    family = "context"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        try:
            self.tz: zoneinfo.ZoneInfo | None = zoneinfo.ZoneInfo(
                str(config.param("context", "timezone"))
            )
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.tz = None
        self.new_network = bool(config.param("context", "new_network"))
        self.new_device = bool(config.param("context", "new_device"))
        self._hour_bucket = -1
        self._local_hour = 0

    def local_hour(self, now: float) -> int:
        bucket = int(now // 3600)
        if bucket != self._hour_bucket:
            self._hour_bucket = bucket
            self._local_hour = datetime.fromtimestamp(now, self.tz).hour
        return self._local_hour

    def observe(
        self, ev: AccessEvent, st: PrincipalState, mine: ContextState, now: float
    ) -> Signal | None:
        reasons: list[str] = []
        hours = self.config.role(ev.role).work_hours
        if hours is not None and mine.offhours_day != st.day:
            start, end = hours
            h = self.local_hour(now)
            if not start <= h < end:
                mine.offhours_day = st.day
                reasons.append("off_hours")
        if self.new_network and ev.ip:
            net = hash(ip_prefix(ev.ip))
            if net not in mine.nets:
                if mine.nets:
                    reasons.append("new_network")
                mine.nets = (mine.nets + (net,))[-KNOWN:]
        if self.new_device and ev.user_agent:
            dev = hash(ev.user_agent)
            if dev not in mine.devices:
                if mine.devices:
                    reasons.append("new_device")
                mine.devices = (mine.devices + (dev,))[-KNOWN:]
        if not reasons:
            return None
        return Signal(
            "context", self.name, 10.0 * len(reasons), ",".join(reasons), {"context": reasons}
        )
