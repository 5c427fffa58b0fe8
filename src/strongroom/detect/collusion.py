"""Collusion: an agent who approved links for an insider since suspended.

Four eyes on case links stops a lone insider; a ring of insiders approves its own links,
each for the next (issue 18's colluding five). Each of them links, and the linking and
case-growth detectors suspend them one by one; what they do not see is that the others
vouched for the first one found out. This detector keeps, per agent, who it approved
links for recently (`window_seconds`); on the agent's next event, if one of them is
suspended now, the agent gets the signal. A wrongful suspension lifted clears it (the
suspension is looked up, not remembered), and an agent whose colleagues were never
suspended never gets it, which is every agent of the legitimate population in the
simulated month. Alone it is capped below any containment: an approver is not an insider
because a colleague was one; with evidence of its own (a case that grows, links without
relation) it suspends.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports, Slot
from strongroom.detect.signals import Signal
from strongroom.endpoints import CASE_APPROVE_LINK

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent

APPROVE = CASE_APPROVE_LINK.id
RECENT = 8


class CollusionState(Slot):
    """The last few principals this one approved links for, with when."""

    __slots__ = ("approved_for",)

    def __init__(self) -> None:
        self.approved_for: tuple[tuple[str, float], ...] = ()

    def nbytes(self) -> int:
        return (
            sys.getsizeof(self)
            + sys.getsizeof(self.approved_for)
            + sum(sys.getsizeof(p) + 48 for p, _ in self.approved_for)
        )


class Collusion(Detector[CollusionState]):
    name = "collusion"
    family = "collusion"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.is_suspended = ports.is_suspended
        self.window = float(config.param("collusion", "window_seconds"))
        self.cap = config.family_caps["collusion"]

    def observe(
        self, ev: AccessEvent, st: PrincipalState, mine: CollusionState, now: float
    ) -> Signal | None:
        if ev.endpoint == APPROVE and ev.outcome == "allowed":
            linker = ev.detail.get("for")
            if isinstance(linker, str) and linker and linker != ev.principal:
                kept = tuple(
                    (p, t) for p, t in mine.approved_for if p != linker and now - t < self.window
                )
                mine.approved_for = (*kept[-(RECENT - 1) :], (linker, now))
        if not mine.approved_for:
            return None
        found = [p for p, t in mine.approved_for if now - t < self.window and self.is_suspended(p)]
        if not found:
            return None
        return Signal(
            "collusion",
            self.name,
            self.cap,
            "approved case links for an agent since suspended",
            {"suspended_linkers": len(found)},
        )
