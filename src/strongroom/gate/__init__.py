"""The gate: the one path every read or write of registry data takes."""

from strongroom.gate.admin import Gate
from strongroom.gate.core import Answer, Disclosure, GateCore

__all__ = ["Answer", "Disclosure", "Gate", "GateCore"]
