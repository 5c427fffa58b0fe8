"""A real `strongroom serve` process for a home, as the product runs one for the drill's
baseline (`strongroom.posture.served`): on a free loopback port, its log kept in the home,
stopped with SIGTERM (the journal is closed, its tail committed) when the block ends, or
with the signal given (SIGKILL: a crash)."""

from strongroom.posture.served import free_port, served

__all__ = ["free_port", "served"]
