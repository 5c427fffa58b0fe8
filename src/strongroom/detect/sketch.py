"""A HyperLogLog distinct counter (Flajolet et al., 2007) small enough for per-principal
state: 256 one-byte registers (about 6.5 % standard error, exact-ish below ~200 through
linear counting), updated in O(1) with the estimate kept incrementally.

Subject IDs are hashed with the process's keyed SipHash (`hash()`), which an outsider
cannot predict: the sketch is in-process only and never merged across workers.
"""

from __future__ import annotations

import math

P = 8
M = 1 << P
_ALPHA = 0.7213 / (1 + 1.079 / M)
_MASK64 = (1 << 64) - 1


class DistinctSketch:
    __slots__ = ("regs", "inv_sum", "zeros")

    def __init__(self) -> None:
        self.regs = bytearray(M)
        self.inv_sum = float(M)
        self.zeros = M

    def add(self, item: str) -> bool:
        """Count `item`; True when the estimate may have grown."""
        h = hash(item) & _MASK64
        idx = h & (M - 1)
        rho = 65 - P - (h >> P).bit_length()
        old = self.regs[idx]
        if rho <= old:
            return False
        self.regs[idx] = rho
        self.inv_sum += 2.0**-rho - 2.0**-old
        if old == 0:
            self.zeros -= 1
        return True

    def estimate(self) -> float:
        if self.zeros == M:
            return 0.0
        e = _ALPHA * M * M / self.inv_sum
        if e <= 2.5 * M and self.zeros:
            return M * math.log(M / self.zeros)
        return e

    def clear(self) -> None:
        self.regs = bytearray(M)
        self.inv_sum = float(M)
        self.zeros = M
