"""Context: off-hours for the role, and a network (/24, /48) or device (user agent) the
principal has not used before. Weak alone (the family is capped low); it corroborates."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from strongroom.detect.config import DetectConfig
from strongroom.detect.signals import Signal
from strongroom.detect.state import PrincipalState
from strongroom.events import AccessEvent

KNOWN = 4


def ip_prefix(ip: str | None) -> str | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one: the unit networks are
    remembered and blocked by."""
    if not ip:
        return None
    if ":" not in ip:
        head, sep, _ = ip.rpartition(".")
        return f"{head}.0/24" if sep else None
    import ipaddress

    try:
        return str(ipaddress.ip_network(f"{ip}/48", strict=False))
    except ValueError:
        return None


class Context:
    name = "context"
    family = "context"

    def __init__(self, config: DetectConfig) -> None:
        self.config = config
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

    def observe(self, ev: AccessEvent, st: PrincipalState, now: float) -> Signal | None:
        reasons: list[str] = []
        hours = self.config.role(ev.role).work_hours
        if hours is not None and st.offhours_day != st.day:
            start, end = hours
            h = self.local_hour(now)
            if not start <= h < end:
                st.offhours_day = st.day
                reasons.append("off_hours")
        if self.new_network and ev.ip:
            net = hash(ip_prefix(ev.ip))
            if net not in st.nets:
                if st.nets:
                    reasons.append("new_network")
                st.nets = (st.nets + (net,))[-KNOWN:]
        if self.new_device and ev.user_agent:
            dev = hash(ev.user_agent)
            if dev not in st.devices:
                if st.devices:
                    reasons.append("new_device")
                st.devices = (st.devices + (dev,))[-KNOWN:]
        if not reasons:
            return None
        return Signal(
            "context", self.name, 10.0 * len(reasons), ",".join(reasons), {"context": reasons}
        )
