"""The sliding-window arithmetic every backend shares (the Redis Lua scripts mirror it line
for line, so both backends decide alike; the contract tests hold them to it).

Counts (requests, records) live in `BUCKETS` sub-windows of width window/BUCKETS. A unit
charged in bucket i is counted until bucket i + BUCKETS + 1 begins, so it weighs on the
budget for at least the full window and at most one bucket longer: in no interval of the
window's length can more than `limit` units be granted (strict), the whole limit may be
spent at once (bursts), and capacity comes back bucket by bucket as the old ones age out
(smooth refill, at 1/60 of the window: a second for a minute, 36 hours for 90 days).

Distinct subjects are exact: each subject keeps the time it was last disclosed and counts
while that time is within the window.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from itertools import islice

BUCKETS = 60


def width(window: int) -> float:
    return window / BUCKETS


def index(now: float, window: int) -> int:
    return math.floor(now / width(window))


def live(idx: int, cur: int) -> bool:
    return idx >= cur - BUCKETS


def expires_at(idx: int, window: int) -> float:
    return (idx + BUCKETS + 1) * width(window)


def counter_view(
    buckets: Mapping[int, int], now: float, window: int, need: int, limit: int
) -> tuple[int, float, float]:
    """(used, wait, reset): units counted now; seconds until `need` more would fit (0 if
    they fit now); seconds until the oldest counted unit stops counting (0 if none)."""
    cur = index(now, window)
    alive = sorted((i, c) for i, c in buckets.items() if live(i, cur) and c > 0)
    used = sum(c for _, c in alive)
    reset = expires_at(alive[0][0], window) - now if alive else 0.0
    over = used + need - limit
    if over <= 0:
        return used, 0.0, reset
    if need > limit:
        return used, float(window), reset
    freed = 0
    for i, c in alive:
        freed += c
        if freed >= over:
            return used, expires_at(i, window) - now, reset
    return used, float(window), reset  # unreachable while need <= limit


def subject_view(
    oldest_first: Iterator[float], count: int, now: float, window: int, limit: int, need: int = 1
) -> tuple[int, float, float]:
    """(distinct, wait, reset) for a subject budget, given the live last-disclosure times
    oldest first: a request fits while fewer than `limit` distinct subjects were disclosed
    within the window."""
    over = count + need - limit
    if count == 0:
        return 0, 0.0, 0.0
    first = next(oldest_first)
    reset = first + window - now
    if need <= 0 or over <= 0:
        return count, 0.0, reset
    kth = first if over == 1 else next(islice(oldest_first, over - 2, None))
    return count, kth + window - now, reset
