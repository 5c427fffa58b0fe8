"""The response ladder: which rungs a risk score has reached and may fire now.

Rungs fire once per episode: a fired rung re-arms when the risk falls below half its
threshold, and a containment rung fires again when its containment is gone (expired,
lifted, or scoped to another session) while the risk still stands. Suspensions need a
honey hit or two independent signal families (the table's evidence groups: families reading
the same evidence count once), so one noisy signal never locks out an officer mid-shift."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from strongroom.detect.config import SUSPENSIONS, Rung
from strongroom.detect.state import Scored
from strongroom.detect.table import independent

CONTAINING = frozenset(
    {"throttle", "step_up", "suspend_session", "suspend_principal", "block_ip_prefix"}
)


def due(
    obj: Scored,
    rungs: Sequence[Rung],
    risk: float,
    families: Sequence[str],
    honey: bool,
    active: Callable[[str], bool],
) -> list[Rung]:
    strong = honey or independent(families) >= 2
    out: list[Rung] = []
    for i, rung in enumerate(rungs):
        bit = 1 << i
        if risk < rung.threshold:
            if obj.fired & bit and risk < rung.threshold / 2:
                obj.fired &= ~bit
            continue
        if rung.action in SUSPENSIONS and not strong:
            continue
        contains = not rung.shadow and rung.action in CONTAINING
        if contains and active(rung.action):
            obj.fired |= bit
            continue
        if obj.fired & bit and not contains:
            continue
        obj.fired |= bit
        out.append(rung)
    return out
