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
        BudgetSpec(
            name=b.name,
            key=b.key,
            unit=b.unit,
            limit=b.limit,
            window_seconds=b.window_seconds,
            shadow=b.shadow,
            roles=frozenset(b.roles) if b.roles else None,
            endpoints=frozenset(b.endpoints) if b.endpoints else None,
        )
        for b in policy.policy.budgets
    ]


def build_budgets(svc: Service) -> Any:
    from strongroom.budgets import Budgets, MemoryBackend, RedisBackend

    url = svc.settings.redis_url
    prefix = str(svc.settings.extra.get("redis_prefix", "sr:"))
    backend = RedisBackend(url, prefix=prefix + "budget:") if url else MemoryBackend()
    return Budgets(budget_specs(svc.policy), backend, svc.clock)


def build_detector(svc: Service) -> Any:
    from strongroom.detect import DetectConfig, DetectionEngine, SqlContainmentStore

    p = svc.policy.policy
    config = DetectConfig.from_policy_section(
        {k: v.model_dump() for k, v in p.detectors.items()},
        {k: v.model_dump() for k, v in p.responses.items()},
    )
    return DetectionEngine(
        config,
        clock=svc.clock,
        store=SqlContainmentStore(svc.engine),
        is_canary=svc.canaries.contains,
        sinks=alert_sinks(svc),
        revoke_principal=svc.revocations.revoke_principal,
    )


def alert_sinks(svc: Service) -> list[Any]:
    """Alerts leave the building: always a JSON-lines file in the home; a signed webhook and
    RFC 5424 syslog when config.toml names them (`alerts_webhook_url` with
    `alerts_webhook_key_file`, `alerts_syslog = "host:port"`)."""
    from pathlib import Path

    from strongroom.detect import JsonLinesSink, SyslogSink, WebhookSink

    extra = svc.settings.extra
    sinks: list[Any] = [JsonLinesSink(svc.home.path / "alerts.jsonl")]
    url = extra.get("alerts_webhook_url")
    key_file = extra.get("alerts_webhook_key_file")
    if url and key_file:
        sinks.append(WebhookSink(str(url), Path(str(key_file)).read_bytes().strip()))
    syslog = extra.get("alerts_syslog")
    if syslog:
        host, _, port = str(syslog).rpartition(":")
        sinks.append(SyslogSink(host or "127.0.0.1", int(port or 514)))
    return sinks


def build_revocations(svc: Service) -> Any:
    """Sessions and revocations live in the registry database, so a revocation bites on
    the next request to any worker."""
    from strongroom.auth.sessions import SqlSessions

    return SqlSessions(svc.engine, clock=svc.clock)


def build_replay_cache(svc: Service) -> Any:
    """DPoP proof `jti`s seen: in Redis when several workers share it, else in memory."""
    from strongroom.auth.rfc9449_dpop import InMemoryReplayCache, RedisReplayCache

    url = svc.settings.redis_url
    if url:
        import redis

        prefix = str(svc.settings.extra.get("redis_prefix", "sr:"))
        return RedisReplayCache(redis.Redis.from_url(url), prefix=prefix + "dpop:")
    return InMemoryReplayCache(svc.clock)


def build_authorization_server(svc: Service) -> Any:
    from strongroom.auth.clients import PrincipalInfo
    from strongroom.auth.role_grants import grant_from_policy
    from strongroom.auth.server import AuthorizationServer

    def principals(principal_id: str) -> PrincipalInfo | None:
        with svc.registry.session() as s:
            row = svc.registry.principal(s, principal_id)
        if row is None:
            return None
        return PrincipalInfo(
            principal_id=row.public_id,
            role=row.role,
            departement=row.departement,
            dealer_id=row.dealer_public_id,
            active=row.status == "active",
        )

    def on_security_event(event: dict[str, Any]) -> None:
        svc.gate.record_security(
            None,
            "oauth",
            reason=str(event.get("type", "security")),
            detail={k: v for k, v in event.items() if k != "type"},
        )

    return AuthorizationServer(
        engine=svc.engine,
        tokens=svc.tokens,
        principals=principals,
        clock=svc.clock,
        replay_cache=svc.replay_cache,
        role_grants=lambda role: grant_from_policy(svc.policy, role),
        on_security_event=on_security_event,
    )
