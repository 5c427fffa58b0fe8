"""The gate: the one path every read or write of registry data takes."""

from strongroom.gate.core import Answer, Disclosure, GateCore
from strongroom.gate.tasks import Tasks as Gate

__all__ = ["Answer", "Disclosure", "Gate", "GateCore"]
