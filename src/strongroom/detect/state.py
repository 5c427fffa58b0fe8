"""Per-principal detector state: fixed-size fields only (counters, a 256-byte sketch, and
each detector's slot as its table entry declares it: two sequence tracks, a handful of
hashes), so memory per principal stays under 2 KiB however much it reads."""

from __future__ import annotations

import sys
from array import array

from strongroom.detect.detector import Slot
from strongroom.detect.sketch import DistinctSketch
from strongroom.detect.table import N_FAMILIES


class Scored:
    """Anything with a risk score (a principal's state, an IP prefix): one decaying value
    per family, when it was last set, and which ladder rungs have fired."""

    __slots__ = ("fam_value", "fam_ts", "fired")

    def __init__(self) -> None:
        self.fam_value = array("d", bytes(8 * N_FAMILIES))
        self.fam_ts = array("d", bytes(8 * N_FAMILIES))
        self.fired = 0


class PrincipalState(Scored):
    """What every detector shares (today's records and distinct subjects, counted once by
    the engine) and `slots`: one per detector the engine runs, in its order, each the
    detector's own state (its table entry's `state()`) or None."""

    __slots__ = ("role", "day", "records_day", "distinct", "distinct_est", "grew", "slots")

    def __init__(self, role: str, day: int, slots: tuple[Slot | None, ...] = ()) -> None:
        super().__init__()
        self.role = role
        self.day = day
        self.records_day = 0
        self.distinct = DistinctSketch()
        self.distinct_est = 0.0
        self.grew = False
        self.slots = slots

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
        size += sys.getsizeof(self.fam_value) + sys.getsizeof(self.fam_ts)
        size += sys.getsizeof(self.slots)
        size += sum(s.nbytes() for s in self.slots if s is not None)
        return size
