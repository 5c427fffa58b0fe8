"""What a drill's attacker brings, taken from a test's own seeded registry: the plain
values an earlier leak would hold (the simulator's view of the registry, read through the
vault and the seed's plan); and a strategy played against scripted answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strongroom.posture.drill_knowledge import Known
from strongroom.posture.drill_strategies import Probe, Strategy
from strongroom.simulate.world import load_registry


def leak(service: Any, seed: int, *, sample: int = 1000) -> tuple[list[Known], list[Known]]:
    """(buyer triples, identities with their département and serials) of the registry."""
    reg = load_registry(service, seed=seed, sample=sample)
    triples = [
        Known(
            family_name=t.family_name,
            birth_date=t.birth_date,
            permit_number=t.permit_number,
            departement=t.departement,
        )
        for t in reg.triples
    ]
    identities = [
        Known(
            family_name=p.family_name,
            birth_date=p.birth_date,
            departement=p.departement,
            serial=p.serials[0] if p.serials else None,
        )
        for p in reg.sample
        if p.family_name
    ]
    return triples, identities


Answer = Callable[[Probe], tuple[int, Any]]


def play(strategy: Strategy, answer: Answer, limit: int = 5000) -> list[Probe]:
    """Run a strategy against scripted answers; the probes it sent, in order."""
    sent: list[Probe] = []
    while len(sent) < limit and (probe := strategy.next()) is not None:
        sent.append(probe)
        strategy.learn(probe, *answer(probe))
    return sent
