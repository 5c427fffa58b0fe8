"""What a detector is, for the engine and the registration table (`table.py`).

A detector is built once per engine from the config and the engine's ports, and sees every
access event with the principal's shared state (`PrincipalState`: today's records and
distinct subjects) and its own per-principal slot `mine` (an instance of the `state` class
its table entry names, or None). It may also fold a principal's finished day
(`close_day`). Either hook returns a `Signal` or None; a detector never acts itself.

This module sits below the detectors and the table: it imports the config and the state
for annotations only, so the table can import every detector while the config and the
state derive their tables from it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.signals import Signal
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent


def _never_canary(subject: str) -> bool:
    return False


def _never_suspended(principal: str) -> bool:
    return False


@dataclass(frozen=True)
class Ports:
    """What detectors may ask the rest of the service (the engine passes its own)."""

    is_canary: Callable[[str], bool] = _never_canary
    # Whether a principal is suspended now (the engine's containment index).
    is_suspended: Callable[[str], bool] = _never_suspended


class Slot:
    """Base of a detector's per-principal state: give it `__slots__` with fixed-size
    fields, and override `nbytes` when it owns a container (counted against the per
    principal memory bound)."""

    __slots__ = ()

    def nbytes(self) -> int:
        return sys.getsizeof(self)


S = TypeVar("S", bound=Slot | None)


class Detector(Generic[S]):
    """Subclass with `name` and `family` (both as registered in the table) and override
    `observe`, `close_day` or both; the engine calls only the hooks a detector overrides.
    `S` is the detector's per-principal slot type (None when it keeps none)."""

    name: ClassVar[str]
    family: ClassVar[str]

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        self.config = config

    def observe(self, ev: AccessEvent, st: PrincipalState, mine: S, now: float) -> Signal | None:
        return None

    def close_day(self, principal: str, st: PrincipalState, mine: S, day: int) -> Signal | None:
        """Called on the principal's first event of a later day `day`, before `st` is
        reset: `st.day` and its counters still describe the finished day."""
        return None

    @classmethod
    def overrides(cls, hook: str) -> bool:
        return getattr(cls, hook) is not getattr(Detector, hook)
