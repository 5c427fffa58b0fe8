"""Map the policy's declarative sections onto the layers that enforce them: budget specs
for `budgets/`, detector configuration for `detect/`, and the revocation store for `auth/`.
Kept apart from `service.py` so each mapping can be tested on its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strongroom.service import Service


def budget_specs(policy: Any) -> list[Any]:
    from strongroom.budgets import BudgetSpec

    return [
        BudgetSpec(name=b.name, key=b.key, unit=b.unit, limit=b.limit,
                   window_seconds=b.window_seconds, shadow=b.shadow,
                   roles=frozenset(b.roles) if b.roles else None,
                   endpoints=frozenset(b.endpoints) if b.endpoints else None)
        for b in policy.policy.budgets
    ]


def build_budgets(svc: Service) -> Any:
    from strongroom.budgets import Budgets, MemoryBackend, RedisBackend

    url = svc.settings.redis_url
    backend = RedisBackend(url) if url else MemoryBackend()
    return Budgets(budget_specs(svc.policy), backend, svc.clock)


def build_detector(svc: Service) -> Any:
    from strongroom.detect import DetectConfig, DetectionEngine, SqlContainmentStore

    p = svc.policy.policy
    config = DetectConfig.from_policy_section(
        {k: v.model_dump() for k, v in p.detectors.items()},
        {k: v.model_dump() for k, v in p.responses.items()},
    )
    return DetectionEngine(config, clock=svc.clock, store=SqlContainmentStore(svc.engine),
                           is_canary=svc.canaries.contains,
                           revoke_principal=svc.revocations.revoke_principal)


def build_revocations(svc: Service) -> Any:
    from strongroom.auth.resource_server import InMemoryRevocations

    return InMemoryRevocations(svc.clock)
