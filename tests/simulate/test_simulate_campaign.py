"""Campaign pacing: working hours are local hours of each simulated day, whatever time
the campaign started."""

from __future__ import annotations

import random

from strongroom.simulate.calls import Call
from strongroom.simulate.campaign import Campaign, Spec
from strongroom.simulate.runner import DAY
from strongroom.simulate.world import EPOCH

H = 3600.0


def campaign(hours: tuple[float, float] | None) -> Campaign:
    spec = Spec("t", "test", lambda a, r: Call("me"), lambda r: 1.0, horizon_days=3, hours=hours)
    return Campaign(spec, EPOCH + 10.8 * H, random.Random(1))


def test_office_hours_are_local_hours_of_each_day() -> None:
    c = campaign((9, 17))
    assert c._next_slot(EPOCH + 10.8 * H) == EPOCH + 10.8 * H  # inside: now
    assert c._next_slot(EPOCH + 17 * H) == EPOCH + DAY + 9 * H  # after: next morning
    assert c._next_slot(EPOCH + DAY + 5 * H) == EPOCH + DAY + 9 * H  # before: 9:00
    assert c._next_slot(EPOCH + 2 * DAY + 16.9 * H) == EPOCH + 2 * DAY + 16.9 * H


def test_round_the_clock_campaign_never_waits() -> None:
    c = campaign(None)
    assert c._next_slot(EPOCH + 3 * H) == EPOCH + 3 * H
