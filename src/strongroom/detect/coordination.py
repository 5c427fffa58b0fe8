"""Coordination: several accounts behind one IP prefix, or one user agent across networks,
sharing one harvest so that each account's share stays under every per-account threshold.
Two kinds of evidence, each looked for in the group's merged stream of requests:

- A split sweep: the requested `sort_key`s still advance in order across the accounts.
  Flagged when at least `principals_per_ip_prefix` principals were active in the group
  within the window and the merged stream shows a sweep two or more of them contributed to.
- Taking turns (timing): the accounts answer one after another in a fixed rotation (A, B,
  C, A, B, C, ...), each request within `turns_gap_seconds` of the group's previous one:
  one client spreading its requests over the accounts so that each stays under its own
  limits. Flagged after `turns_min_run` requests in one rotation of at least
  `turns_min_accounts` accounts (more for a rotation of two or three: ROTATION_BITS).
  People sharing an office network interleave at random and with pauses; a rotation kept
  for a dozen requests in a row is a loop in a script.

Shared prefixes (a police station's NAT) or common browsers alone never flag: the sweep
or the rotation is the evidence.
"""

from __future__ import annotations

import math
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
# The longest rotation looked for: more accounts than this taking turns in one group is
# a larger operation that the per-prefix budgets and the sweep see instead.
MAX_ROTATION = 16
# Among k people taking requests at random, the next one is the one k requests back about
# once in k: a rotation of two holds for a dozen requests by chance once in 4,000 runs. So
# a rotation must carry this many bits of evidence (turns x log2(accounts)) as well as
# `turns_min_run` turns: 24 turns for two accounts, 16 for three, 12 from four on.
ROTATION_BITS = 24.0


class _Group:
    __slots__ = (
        "members",
        "track",
        "contributors",
        "flagged_until",
        "recent",
        "period",
        "turns",
        "turn_ts",
        "rotation",
        "turns_until",
    )

    def __init__(self, key: str) -> None:
        self.members: dict[str, float] = {}
        self.track = SeqTrack(key)
        self.contributors: set[str] = set()
        self.flagged_until = 0.0
        # The group's last principals in arrival order, and the rotation they follow.
        self.recent: list[str] = []
        self.period = 0
        self.turns = 0
        self.turn_ts = 0.0
        self.rotation: frozenset[str] = frozenset()
        self.turns_until = 0.0


class Coordination(Detector[None]):
    name = "coordination"
    family = "coordination"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.min_principals = int(config.param("coordination", "principals_per_ip_prefix"))
        self.window = float(config.param("coordination", "window_seconds"))
        self.min_run = int(config.param("coordination", "min_run"))
        self.min_steps = int(config.param("enumeration", "min_steps"))
        self.turns_min_run = int(config.param("coordination", "turns_min_run"))
        self.turns_gap = float(config.param("coordination", "turns_gap_seconds"))
        self.turns_min_accounts = max(2, int(config.param("coordination", "turns_min_accounts")))
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
        g = self._group(key)
        members = g.members
        members[ev.principal] = now
        if len(members) > MAX_MEMBERS:
            for who, seen in list(members.items()):
                if now - seen > self.window:
                    del members[who]
            while len(members) > MAX_MEMBERS:
                members.pop(next(iter(members)))
        self._sweep(g, ev, now)
        self._turn(g, ev.principal, now)
        kind = "user_agent" if key.startswith("ua:") else "ip_prefix"
        best: Signal | None = None
        if g.flagged_until > now and ev.principal in g.contributors:
            best = Signal(
                "coordination",
                self.name,
                min(self.cap, 30.0 + 2.0 * len(g.contributors)),
                f"accounts sharing one {kind} split a sweep",
                {"shared": kind, "accounts": len(g.contributors), "run": g.track.mono},
                related=tuple(sorted(g.contributors)),
            )
        if g.turns_until > now and ev.principal in g.rotation:
            score = min(self.cap, 30.0 + 2.0 * len(g.rotation))
            if best is None or score > best.score:
                best = Signal(
                    "coordination",
                    self.name,
                    score,
                    f"accounts sharing one {kind} take turns",
                    {"shared": kind, "accounts": len(g.rotation), "turns": g.turns},
                    related=tuple(sorted(g.rotation)),
                )
        return best

    def _sweep(self, g: _Group, ev: AccessEvent, now: float) -> None:
        sort_key = sort_key_of(ev)
        if sort_key is None:
            return
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
            and sum(1 for seen in g.members.values() if now - seen <= self.window)
            >= self.min_principals
        ):
            g.flagged_until = now + self.window

    def _turn(self, g: _Group, principal: str, now: float) -> None:
        """Extend or break the group's rotation with this request."""
        recent = g.recent
        if now - g.turn_ts > self.turns_gap:
            recent.clear()
            g.period = g.turns = 0
        g.turn_ts = now
        # How many requests ago this principal last asked: in a rotation of k accounts,
        # always k (the smallest distance back, so the k-1 between are the other accounts).
        back = next(
            (d for d in range(1, len(recent) + 1) if recent[-d] == principal),
            0,
        )
        if back >= 2 and back == g.period:
            g.turns += 1
        elif back >= 2:
            g.period, g.turns = back, 1
        else:  # the same account twice in a row, or one new to the group: no rotation
            g.period = g.turns = 0
        recent.append(principal)
        if len(recent) > MAX_ROTATION:
            del recent[0]
        if (
            g.period >= self.turns_min_accounts
            and g.turns >= self.turns_min_run
            and g.turns * math.log2(g.period) >= ROTATION_BITS
        ):
            g.rotation = frozenset(recent[-g.period :])
            g.turns_until = now + self.window
