"""The discrete-event loop: every simulated actor (a legitimate user, an attacker's
account) sleeps until its next wake time; the loop sets the `FakeClock` to the earliest
one and lets it act, so detectors and budgets see requests in simulated-time order.

Deterministic for a seed: actors draw from their own `random.Random` and ties are broken
by insertion order.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Any, Protocol

from strongroom.context import Caller
from strongroom.simulate.calls import Call, Outcome, perform

DAY = 86_400.0
PROGRESS_EVERY = 200


class Actor(Protocol):
    def wake(self, sim: Sim, now: float) -> float | None:
        """Act at `now`; return the next wake time, or None when done."""
        ...


class Sim:
    def __init__(
        self, world: Any, *, end: float, progress: Callable[[float, int], None] | None = None
    ) -> None:
        self.world = world
        self.end = end
        self.progress = progress
        self.requests = 0
        self.wall_seconds = 0.0
        self._heap: list[tuple[float, int, Actor]] = []
        self._seq = 0

    def add(self, actor: Actor, at: float | None) -> None:
        if at is not None and at <= self.end:
            heapq.heappush(self._heap, (at, self._seq, actor))
            self._seq += 1

    def request(self, caller: Caller, call: Call) -> Outcome:
        self.requests += 1
        return perform(self.world, caller, call)

    def run(self) -> None:
        clock = self.world.clock
        started = time.perf_counter()
        events = 0
        while self._heap:
            at, _, actor = heapq.heappop(self._heap)
            if at > clock.now():
                clock.set(at)
            self.add(actor, actor.wake(self, clock.now()))
            events += 1
            if self.progress is not None and events % PROGRESS_EVERY == 0:
                self.progress(clock.now(), self.requests)
        self.wall_seconds = time.perf_counter() - started
        if self.progress is not None:
            self.progress(self.end, self.requests)
