"""The seam between the budget rules (`core.Budgets`) and where counts live. A backend
checks and charges many budgets in one atomic step, refunds and adds subjects at
settlement, and reads counts back; it takes `now` from the caller, never from its own
clock, so a simulated month replays the same on every backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from strongroom.budgets.spec import BudgetSpec


@dataclass(frozen=True)
class Charge:
    """One budget bucket touched by a request: `amount` units of requests or records to
    charge (subject budgets charge nothing at reservation: they only check)."""

    spec: BudgetSpec
    value: str
    amount: int = 0

    @property
    def need(self) -> int:
        return 1 if self.spec.unit == "subjects" else self.amount


@dataclass(frozen=True)
class Settlement:
    """What settles one charge: `refund` units back to the bucket charged at `reserved_at`
    (negative: charge more, if more was disclosed than reserved), and subjects to add."""

    charge: Charge
    reserved_at: float
    refund: int = 0
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    used: int
    wait: float = 0.0
    """Seconds until the charge would fit; 0 when it fits now."""
    reset: float = 0.0
    """Seconds until the oldest counted unit stops counting (capacity starts coming back)."""
    would_refuse: int = 0
    """Shadow budgets: at reserve, 1 if this one would have refused; at read, the count of
    such requests within the window."""

    @property
    def fits(self) -> bool:
        return self.wait <= 0


@dataclass(frozen=True)
class Verdict:
    granted: bool
    readings: list[Reading]


class Backend(Protocol):
    def reserve(
        self, charges: Sequence[Charge], now: float, *, remember: tuple[str, str, int] | None = None
    ) -> Verdict:
        """All-or-nothing: if any enforcing charge does not fit, charge nothing. Shadow
        charges never refuse; when granted, a shadow charge that would not fit is counted
        as would-refuse. `remember` = (principal, keys JSON, ttl s) for `recall`."""
        ...

    def settle(self, items: Sequence[Settlement], now: float) -> list[Reading]: ...

    def read(self, charges: Sequence[Charge], now: float) -> list[Reading]: ...

    def recall(self, principal: str) -> str | None:
        """The keys JSON last remembered for this principal, if still kept."""
        ...


@runtime_checkable
class AsyncBackend(Protocol):
    """A store whose reservation can be awaited on the event loop (Redis): the door's
    reservation does not hold the loop for a round trip."""

    async def reserve_async(
        self, charges: Sequence[Charge], now: float, *, remember: tuple[str, str, int] | None = None
    ) -> Verdict: ...
