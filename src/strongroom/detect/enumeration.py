"""Enumeration: requested values that advance in order or by even steps (serials, permit
numbers, names swept alphabetically, postcodes or départements in order), and guessing (a
high share of lookups that match nothing).

Public subject IDs are random, so order can only show in what is *asked*: the gate puts a
`sort_key` (a number derived from the searched value: alphabetical rank of a name's first
letters, the postcode, the serial's number) and `matched` in `event.detail`, never the
value itself."""

from __future__ import annotations

import math

from strongroom.detect.config import DetectConfig
from strongroom.detect.signals import Signal
from strongroom.detect.state import PrincipalState, SeqTrack
from strongroom.events import AccessEvent

MAX_TRACKS = 2


def sort_key_of(ev: AccessEvent) -> float | None:
    value = ev.detail.get("sort_key") if ev.detail else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def sweep_score(track: SeqTrack, min_run: int, min_steps: int, cap: float) -> float:
    """How strongly a track looks like a sweep (0 when it does not)."""
    if track.step >= min_steps:
        return min(cap, 45.0 + 2.0 * (track.step - min_steps))
    if track.mono >= min_run:
        return min(cap, 30.0 + 2.0 * (track.mono - min_run))
    return 0.0


class Enumeration:
    name = "enumeration"
    family = "enumeration"

    def __init__(self, config: DetectConfig) -> None:
        p = lambda k: config.param("enumeration", k)  # noqa: E731
        self.window = float(p("window_seconds"))
        self.min_run = int(p("min_run"))
        self.min_steps = int(p("min_steps"))
        self.min_lookups = float(p("min_lookups"))
        self.miss_ratio = float(p("miss_ratio"))
        self.cap = config.family_caps["enumeration"]

    def observe(self, ev: AccessEvent, st: PrincipalState, now: float) -> Signal | None:
        detail = ev.detail
        if not detail:
            return None
        best: Signal | None = None
        key = sort_key_of(ev)
        if key is not None:
            track = self._track(st, ev.endpoint)
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
            decay = math.exp(-(now - st.g_ts) / self.window) if st.g_ts else 0.0
            st.g_ts = now
            st.g_lookups = st.g_lookups * decay + 1.0
            st.g_misses = st.g_misses * decay + (0.0 if matched else 1.0)
            share = st.g_misses / st.g_lookups
            if st.g_lookups >= self.min_lookups and share >= self.miss_ratio:
                span = max(1e-9, 1.0 - self.miss_ratio)
                score = min(self.cap, 25.0 + 35.0 * (share - self.miss_ratio) / span)
                if best is None or score > best.score:
                    best = Signal(
                        "enumeration",
                        self.name,
                        score,
                        "most lookups match nothing (guessing)",
                        {"miss_share": round(share, 2), "lookups": round(st.g_lookups, 1)},
                    )
        return best

    @staticmethod
    def _track(st: PrincipalState, endpoint: str) -> SeqTrack:
        for t in st.tracks:
            if t.key == endpoint:
                return t
        track = SeqTrack(endpoint)
        if len(st.tracks) >= MAX_TRACKS:
            st.tracks.sort(key=lambda t: t.ts)
            st.tracks.pop(0)
        st.tracks.append(track)
        return track
