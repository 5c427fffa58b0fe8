"""A bounded map of refusals held until a time: what a process remembers so that a flood of
the same refused request costs a dictionary lookup (the budgets' refused buckets, the
door's refused credentials)."""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Held(Generic[K, V]):
    """At most `limit` keys, each with the time it holds until and a value. Full, it keeps
    only the keys still holding, and none if that is more than half: the sweep then comes
    again only after as many new keys, never on every one of a flood of distinct keys."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[K, tuple[float, V]] = {}

    def hold(self, key: K, until: float, value: V, now: float) -> None:
        if len(self._held) >= self.limit:
            kept = {k: v for k, v in list(self._held.items()) if v[0] > now}
            self._held = kept if len(kept) <= self.limit // 2 else {}
        self._held[key] = (until, value)

    def get(self, key: K, now: float) -> tuple[float, V] | None:
        """(until, value) while the key holds; None once it has run out (then dropped)."""
        held = self._held.get(key)
        if held is None:
            return None
        if held[0] <= now:
            self._held.pop(key, None)
            return None
        return held

    def __bool__(self) -> bool:
        return bool(self._held)

    def __len__(self) -> int:
        return len(self._held)
