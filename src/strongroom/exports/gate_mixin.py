"""The gate's export step, mixed into `strongroom.gate.Gate`.

Export steps run through the same pipeline as every read (containment, purpose and scope
from the policy, journal, detectors). Unlike `administer`, a step may disclose records: a
download journals the rows and field names that left, so "what did principal X extract"
counts exports too. Budgets are charged one unit per export, not per row: the approval,
not the budget, is the control on bulk output, and an approved export must not exhaust
its requester's budget for their daily case work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strongroom.context import Caller

if TYPE_CHECKING:
    from strongroom.gate.core import Answer, Task


@dataclass
class StepResult:
    body: dict[str, Any]
    records: int = 0
    fields: Iterable[str] = ()
    detail: dict[str, Any] = field(default_factory=dict)


class ExportGate:
    """Mixed into the gate (`self._serve` comes from `GateCore`); no base class, so the
    gate package can import this module without a cycle."""

    def export_step(
        self,
        caller: Caller,
        endpoint: str,
        fn: Callable[[Task], StepResult],
        *,
        detail: dict[str, Any] | None = None,
    ) -> Answer:
        from strongroom.gate.core import Disclosure

        def work(t: Task) -> Disclosure:
            t.detail.update(detail or {})
            step = fn(t)
            return Disclosure(
                body=step.body,
                fields=set(step.fields),
                records=step.records,
                cost=1 if step.records else 0,
                detail={**(detail or {}), **step.detail},
            )

        return self._serve(
            caller,
            endpoint,
            work,  # type: ignore[attr-defined]
            expected_records=0,
        )
