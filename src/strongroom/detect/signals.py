"""A signal: one detector's finding on one event, tagged with its family. The risk score
and the incident book consume signals; detectors never act on their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Signal:
    family: str
    detector: str
    score: float
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)
    shadow: bool = False
    # Who else the signal is about (coordinated accounts), beyond the event's principal.
    related: tuple[str, ...] = ()
