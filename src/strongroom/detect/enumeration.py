"""Enumeration: requested values that advance in order or by even steps (serials, permit
numbers, names swept alphabetically, postcodes or départements in order), and guessing (a
high share of lookups that match nothing).

Public subject IDs are random, so order can only show in what is *asked*: the gate gives
each event a `sort_key` (`gate/sort_keys.py`: the rank of a searched name's first letters,
a serial's or permit number's last digits under a keyed block, an ID's leading bits; for
the detectors only, never journaled) and puts `matched` in `event.detail`, never the value
itself."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports, Slot
from strongroom.detect.signals import Signal

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent

MAX_TRACKS = 2


class SeqTrack:
    """Requested sort keys in arrival order: how long the current run is monotone, and how
    long it has advanced by one even step."""

    __slots__ = ("key", "last", "delta", "mono", "step", "ts")

    def __init__(self, key: str) -> None:
        self.key = key
        self.last: float | None = None
        self.delta = 0.0
        self.mono = 0
        self.step = 0
        self.ts = 0.0

    def push(self, value: float, now: float, window: float) -> None:
        last = self.last
        if last is None or now - self.ts > window:
            self.last, self.delta, self.mono, self.step, self.ts = value, 0.0, 1, 1, now
            return
        self.ts = now
        d = value - last
        if d == 0:
            # The same key again (another "Mar..." name) neither extends nor breaks a sweep.
            return
        self.last = value
        if self.delta and (d > 0) == (self.delta > 0):
            self.mono += 1
            self.step = self.step + 1 if d == self.delta else 2
        else:
            self.mono, self.step = 2, 2
        self.delta = d

    def nbytes(self) -> int:
        return sys.getsizeof(self)


class EnumerationState(Slot):
    """Up to MAX_TRACKS sequence tracks (one per endpoint), and the decayed counts of
    lookups and misses."""

    __slots__ = ("tracks", "g_lookups", "g_misses", "g_ts")

    def __init__(self) -> None:
        self.tracks: list[SeqTrack] = []
        self.g_lookups = 0.0
        self.g_misses = 0.0
        self.g_ts = 0.0

    def nbytes(self) -> int:
        return (
            sys.getsizeof(self) + sys.getsizeof(self.tracks) + sum(t.nbytes() for t in self.tracks)
        )


def sort_key_of(ev: AccessEvent) -> float | None:
    value = ev.sort_key
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def sweep_score(track: SeqTrack, min_run: int, min_steps: int, cap: float) -> float:
    """How strongly a track looks like a sweep (0 when it does not)."""
    if track.step >= min_steps:
        return min(cap, 45.0 + 2.0 * (track.step - min_steps))
    if track.mono >= min_run:
        return min(cap, 30.0 + 2.0 * (track.mono - min_run))
    return 0.0


class Enumeration(Detector[EnumerationState]):
    name = "enumeration"
    family = "enumeration"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.window = float(config.param("enumeration", "window_seconds"))
        self.min_run = int(config.param("enumeration", "min_run"))
        self.min_steps = int(config.param("enumeration", "min_steps"))
        self.min_lookups = float(config.param("enumeration", "min_lookups"))
        self.miss_ratio = float(config.param("enumeration", "miss_ratio"))
        self.cap = config.family_caps["enumeration"]

    def observe(
        self, ev: AccessEvent, st: PrincipalState, mine: EnumerationState, now: float
    ) -> Signal | None:
        detail = ev.detail
        if not detail:
            return None
        best: Signal | None = None
        key = sort_key_of(ev)
        if key is not None:
            track = self._track(mine, ev.endpoint)
            track.push(key, now, self.window)
            score = sweep_score(track, self.min_run, self.min_steps, self.cap)
            if score:
                best = Signal(
                    "enumeration",
                    self.name,
                    score,
                    "requested values advance in order",
                    {"run": track.mono, "even_steps": track.step, "endpoint": ev.endpoint},
                )
        matched = detail.get("matched")
        if isinstance(matched, bool):
            decay = math.exp(-(now - mine.g_ts) / self.window) if mine.g_ts else 0.0
            mine.g_ts = now
            mine.g_lookups = mine.g_lookups * decay + 1.0
            mine.g_misses = mine.g_misses * decay + (0.0 if matched else 1.0)
            share = mine.g_misses / mine.g_lookups
            if mine.g_lookups >= self.min_lookups and share >= self.miss_ratio:
                span = max(1e-9, 1.0 - self.miss_ratio)
                score = min(self.cap, 25.0 + 35.0 * (share - self.miss_ratio) / span)
                if best is None or score > best.score:
                    best = Signal(
                        "enumeration",
                        self.name,
                        score,
                        "most lookups match nothing (guessing)",
                        {"miss_share": round(share, 2), "lookups": round(mine.g_lookups, 1)},
                    )
        return best

    @staticmethod
    def _track(st: EnumerationState, endpoint: str) -> SeqTrack:
        for t in st.tracks:
            if t.key == endpoint:
                return t
        track = SeqTrack(endpoint)
        if len(st.tracks) >= MAX_TRACKS:
            st.tracks.sort(key=lambda t: t.ts)
            st.tracks.pop(0)
        st.tracks.append(track)
        return track
