"""Per-principal detector state: fixed-size fields only (counters, a 256-byte sketch,
two sequence tracks, a handful of hashes), so memory per principal stays under 2 KiB
however much it reads."""

from __future__ import annotations

import sys
from array import array

from strongroom.detect.config import FAMILIES
from strongroom.detect.sketch import DistinctSketch

N_FAMILIES = len(FAMILIES)
FAMILY_INDEX = {f: i for i, f in enumerate(FAMILIES)}


class Scored:
    """Anything with a risk score (a principal's state, an IP prefix): one decaying value
    per family, when it was last set, and which ladder rungs have fired."""

    __slots__ = ("fam_value", "fam_ts", "fired")

    def __init__(self) -> None:
        self.fam_value = array("d", bytes(8 * N_FAMILIES))
        self.fam_ts = array("d", bytes(8 * N_FAMILIES))
        self.fired = 0


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


class PrincipalState(Scored):
    __slots__ = (
        "role",
        "day",
        "records_day",
        "distinct",
        "distinct_est",
        "grew",
        "minute",
        "count_min",
        "count_prev",
        "tracks",
        "g_lookups",
        "g_misses",
        "g_ts",
        "cusum",
        "last_day_closed",
        "nets",
        "devices",
        "offhours_day",
    )

    def __init__(self, role: str, day: int) -> None:
        super().__init__()
        self.role = role
        self.day = day
        self.records_day = 0
        self.distinct = DistinctSketch()
        self.distinct_est = 0.0
        self.grew = False
        self.minute = 0
        self.count_min = 0
        self.count_prev = 0
        self.tracks: list[SeqTrack] = []
        self.g_lookups = 0.0
        self.g_misses = 0.0
        self.g_ts = 0.0
        self.cusum = 0.0
        self.last_day_closed = day - 1
        self.nets: tuple[int, ...] = ()
        self.devices: tuple[int, ...] = ()
        self.offhours_day = -1

    def count(self, records: int, subjects: tuple[str, ...]) -> None:
        """Today's records and distinct subjects, shared by breadth, peers and drift."""
        self.records_day += records
        grew = False
        add = self.distinct.add
        for s in subjects:
            if add(s):
                grew = True
        if grew:
            self.distinct_est = self.distinct.estimate()
        self.grew = grew

    def new_day(self, day: int) -> None:
        self.day = day
        self.records_day = 0
        self.distinct.clear()
        self.distinct_est = 0.0

    def nbytes(self) -> int:
        """Bytes this state owns (shared strings such as the role name are not counted)."""
        size = sys.getsizeof(self) + sys.getsizeof(self.distinct)
        size += sys.getsizeof(self.distinct.regs)
        size += sys.getsizeof(self.tracks) + sum(t.nbytes() for t in self.tracks)
        size += sys.getsizeof(self.nets) + sys.getsizeof(self.devices)
        size += sys.getsizeof(self.fam_value) + sys.getsizeof(self.fam_ts)
        return size
