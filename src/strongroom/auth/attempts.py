"""Failed sign-ins: how long an account waits after each, when it locks, and how many
failures one network may have (the policy's `sign_in:` section).

An account's count lives in its credentials row (`auth/login.py`), so every worker sees
the same one and the lock outlives a restart. A network's count is a budget of the budgets
layer, in Redis when workers share one: a failure is reserved before the form is read and
given back if the sign-in succeeds, so concurrent tries cannot pass the limit together and
a busy office behind one address is charged only for its mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.budgets import BudgetKeys, Budgets, BudgetSpec, MemoryBackend, Reservation
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.errors import TooManyRequests

PREFIX_BUDGET = "sign_in_failures_ip_prefix"
# The doubling stops long before a float would overflow; max_delay_seconds caps it anyway.
MAX_DOUBLINGS = 32


@dataclass(frozen=True)
class AttemptRules:
    free_failures: int = 3
    first_delay_seconds: int = 2
    max_delay_seconds: int = 300
    lock_after: int = 10
    ip_prefix_failures: int = 30
    ip_prefix_window_seconds: int = 900

    def delay_after(self, failures: int) -> float:
        """Seconds an account waits before its next try is read, after `failures`
        consecutive failures."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, MAX_DOUBLINGS)
        return float(min(self.max_delay_seconds, self.first_delay_seconds * 2**doublings))


class PrefixFailures:
    """The failure budget of each IP prefix (`netaddr.ip_prefix`), whatever the account."""

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets

    @staticmethod
    def spec(rules: AttemptRules) -> BudgetSpec:
        # Counted as "records" because only that unit is given back at settlement.
        return BudgetSpec(
            name=PREFIX_BUDGET,
            key="ip_prefix",
            unit="records",
            limit=rules.ip_prefix_failures,
            window_seconds=rules.ip_prefix_window_seconds,
        )

    @classmethod
    def in_memory(cls, rules: AttemptRules, clock: Clock = SYSTEM_CLOCK) -> PrefixFailures:
        return cls(Budgets([cls.spec(rules)], MemoryBackend(), clock))

    def reserve(self, ip: str | None) -> Reservation:
        """Hold one failure for this try, or refuse it (429) when the network has none
        left."""
        try:
            return self.budgets.reserve(BudgetKeys(principal="anonymous", ip=ip), records=1)
        except TooManyRequests as exc:
            retry = exc.extra.get("retry_after", 1)
            raise TooManyRequests(
                f"too many failed sign-ins from this network; retry in {retry} s",
                reason="sign_in_failures",
                headers={"Retry-After": str(retry)},
                extra={"retry_after": retry},
            ) from None

    def settle(self, reservation: Reservation, *, failed: bool) -> None:
        self.budgets.settle(reservation, 1 if failed else 0, ())
