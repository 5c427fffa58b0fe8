"""Coordination: several accounts behind one IP prefix, or one user agent across networks,
splitting one sweep between them. Each account's share can stay under every per-account
threshold; the group's merged stream of requested `sort_key`s still advances in order.

A group is flagged when at least `principals_per_ip_prefix` principals were active in it
within the window and its merged stream shows a sweep to which two or more of them
contributed. Shared prefixes (a police station's NAT) or common browsers alone never
flag: the sweep is the evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports
from strongroom.detect.enumeration import SeqTrack, sort_key_of, sweep_score
from strongroom.detect.signals import Signal
from strongroom.netaddr import ip_prefix

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent

MAX_GROUPS = 20_000
MAX_MEMBERS = 64


class _Group:
    __slots__ = ("members", "track", "contributors", "flagged_until")

    def __init__(self, key: str) -> None:
        self.members: dict[str, float] = {}
        self.track = SeqTrack(key)
        self.contributors: set[str] = set()
        self.flagged_until = 0.0


class Coordination(Detector[None]):
    name = "coordination"
    family = "coordination"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.min_principals = int(config.param("coordination", "principals_per_ip_prefix"))
        self.window = float(config.param("coordination", "window_seconds"))
        self.min_run = int(config.param("coordination", "min_run"))
        self.min_steps = int(config.param("enumeration", "min_steps"))
        self.cap = config.family_caps["coordination"]
        self.groups: dict[str, _Group] = {}

    def observe(self, ev: AccessEvent, st: PrincipalState, mine: None, now: float) -> Signal | None:
        best: Signal | None = None
        for key in (ip_prefix(ev.ip), f"ua:{ev.user_agent}" if ev.user_agent else None):
            if key is None:
                continue
            sig = self._update(key, ev, now)
            if sig is not None and (best is None or sig.score > best.score):
                best = sig
        return best

    def _group(self, key: str) -> _Group:
        g = self.groups.get(key)
        if g is None:
            if len(self.groups) >= MAX_GROUPS:
                # Forget the oldest group: dicts keep insertion order.
                self.groups.pop(next(iter(self.groups)))
            g = self.groups[key] = _Group(key)
        return g

    def _update(self, key: str, ev: AccessEvent, now: float) -> Signal | None:
        sort_key = sort_key_of(ev)
        g = self.groups.get(key)
        if g is None and sort_key is None:
            return None
        g = g or self._group(key)
        members = g.members
        members[ev.principal] = now
        if len(members) > MAX_MEMBERS:
            for who, seen in list(members.items()):
                if now - seen > self.window:
                    del members[who]
            while len(members) > MAX_MEMBERS:
                members.pop(next(iter(members)))
        if sort_key is not None:
            before = g.track.mono
            g.track.push(sort_key, now, self.window)
            if g.track.mono < before or g.track.mono <= 2:
                g.contributors.clear()
            g.contributors.add(ev.principal)
            if len(g.contributors) > MAX_MEMBERS:
                g.contributors.pop()
            if (
                len(g.contributors) >= 2
                and sweep_score(g.track, self.min_run, self.min_steps, self.cap)
                and sum(1 for seen in members.values() if now - seen <= self.window)
                >= self.min_principals
            ):
                g.flagged_until = now + self.window
        if g.flagged_until > now and ev.principal in g.contributors:
            kind = "user_agent" if key.startswith("ua:") else "ip_prefix"
            return Signal(
                "coordination",
                self.name,
                min(self.cap, 30.0 + 2.0 * len(g.contributors)),
                f"accounts sharing one {kind} split a sweep",
                {"shared": kind, "accounts": len(g.contributors), "run": g.track.mono},
                related=tuple(sorted(g.contributors)),
            )
        return None
