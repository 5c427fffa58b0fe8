"""The composition root: `compose(home)` builds every component from a home folder.

Each builder takes what it needs as explicit arguments; no component is handed a
half-built container. The API (`strongroom.api`) and the CLI (`strongroom.cli`) are
adapters over the `Service` this returns; nothing else constructs layers, and this module
imports no adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from strongroom.analytics import AnalyticsDesk
from strongroom.auth.attempts import AttemptRules, PrefixFailures
from strongroom.auth.clients import PrincipalInfo
from strongroom.auth.issuers import TrustedIssuers
from strongroom.auth.login import Credentials
from strongroom.auth.oidc_external import ExternalIssuer
from strongroom.auth.replay_sql import SqlReplayCache
from strongroom.auth.resource_server import AccessTokenVerifier, ResourceServer
from strongroom.auth.revocation_snapshot import RevocationSnapshot
from strongroom.auth.rfc9068 import TokenService
from strongroom.auth.rfc9449_dpop import RedisReplayCache, ReplayCache
from strongroom.auth.role_grants import RoleGrant, grant_from_policy
from strongroom.auth.server import AuthorizationServer
from strongroom.auth.sessions import SqlSessions
from strongroom.auth.token_issue import TokenIssuer
from strongroom.budgets import Budgets, BudgetSpec, MemoryBackend, RedisBackend
from strongroom.budgets.state_file import BudgetStateFile
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.config import Home, Settings, external_role_map
from strongroom.context import Caller
from strongroom.detect import (
    DetectConfig,
    DetectionEngine,
    JsonLinesSink,
    SqlContainmentStore,
    SyslogSink,
    WebhookSink,
)
from strongroom.detect.containment import Action
from strongroom.detect.engine import IDLE_DAYS
from strongroom.detect.feed import FeedUnavailable, RedisEventFeed
from strongroom.detect.sinks import Sink
from strongroom.errors import BadRequest
from strongroom.events import AccessEvent
from strongroom.exports import ExportDesk, ExportStore, Watermark, export_key
from strongroom.gate import (
    AdminTasks,
    AuditTasks,
    BreakGlassWindows,
    CaseTasks,
    OwnerAccesses,
    Pipeline,
    RegistryTasks,
)
from strongroom.gate.audit import JournalCheck
from strongroom.gate.verification_runs import VerificationRuns
from strongroom.journal import Journal, load_signer
from strongroom.journal.activity import RecentActivity
from strongroom.journal.investigate import Investigator
from strongroom.policy import CompiledPolicy, compile_policy, load_policy
from strongroom.registry.canaries import CanarySet
from strongroom.registry.db import make_engine
from strongroom.registry.keystore import registry_vault
from strongroom.registry.repository import Registry
from strongroom.vault import KeyProvider, Vault, open_key_provider

log = logging.getLogger("strongroom.compose")


@dataclass
class Service:
    """Every component of one process, built once by `compose`."""

    home: Home
    settings: Settings
    clock: Clock
    keys: KeyProvider
    policy: CompiledPolicy
    engine: Engine
    registry: Registry
    vault: Vault
    journal: Journal
    canaries: CanarySet
    sessions: SqlSessions
    tokens: TokenService
    replay_cache: ReplayCache
    resource_server: ResourceServer
    budgets: Budgets
    budget_state: BudgetStateFile | None  # the embedded deployment's budgets, kept on disk
    door: Budgets
    detector: DetectionEngine
    pipeline: Pipeline
    registry_tasks: RegistryTasks
    cases: CaseTasks
    owner_accesses: OwnerAccesses
    audit: AuditTasks
    authorization_server: AuthorizationServer
    token_issuer: TokenIssuer
    admin: AdminTasks
    exports: ExportDesk
    analytics: AnalyticsDesk

    def close(self, *, tail_signed: Callable[[], object] | None = None) -> None:
        """Stop: the budgets' last changes, a checkpoint of the journal's tail, then the
        journal (its queued refusals committed). A step that fails is logged and the next
        still runs: the journal must be closed whatever happened to the budgets.
        `tail_signed` runs once the tail is signed, while the journal is still open (a
        served process sends that checkpoint to its witnesses)."""
        self.detector.close()
        try:
            if self.budget_state is not None:
                self.budget_state.close()
        except Exception as exc:  # noqa: BLE001 - logged; the journal still closes
            log.error("saving the budgets failed on close: %s", type(exc).__name__)
        try:
            # A clean stop leaves the log's tail signed, so a verifier needs no live server.
            # The refusals still queued count too: without the flush the size read below
            # could miss them, and they would be committed by close() past the checkpoint.
            self.journal.flush()
            checkpoints = self.journal.checkpoints()
            signed = checkpoints[-1][1] if checkpoints else 0
            if self.journal.size() > signed:
                self.journal.make_checkpoint()
            if tail_signed is not None:
                tail_signed()
        except Exception as exc:  # noqa: BLE001 - logged; the journal still closes
            log.error("signing the journal's tail failed on close: %s", type(exc).__name__)
        finally:
            self.journal.close()
            self.engine.dispose()


def compose(
    home: Home,
    *,
    clock: Clock = SYSTEM_CLOCK,
    public_url: str | None = None,
    remember: bool = False,
) -> Service:
    """The service of `home`. `public_url`: the address clients reach it at, when it is
    not the issuer's (a server started on another port). `remember`: the detectors
    replay the journal's recent accesses (a server does; a one-off CLI command need not
    read two weeks of journal to add a principal)."""
    settings = home.settings()
    keys = open_key_provider(home, settings)
    policy = compile_policy(load_policy(home.policy_path), keys.pseudonym_key(), clock=clock)
    engine = make_engine(settings.registry_url, pool_size=settings.max_inflight)
    registry = Registry(engine)
    vault = registry_vault(keys, engine)
    journal = Journal.open(settings.journal_url, signer=load_signer(home.keys_dir), clock=clock)
    canaries = CanarySet(engine, keys.honey_key())
    sessions = SqlSessions(engine, clock=clock)
    tokens = TokenService(
        home.keys_dir, issuer=settings.issuer, audience=settings.audience, clock=clock
    )
    replay_cache = build_replay_cache(settings, clock, engine)

    def role_grants(role: str) -> RoleGrant:
        return grant_from_policy(policy.policy, role)

    resource_server = ResourceServer(
        access_token_verifier(settings, policy, tokens, role_grants, clock),
        revocations=RevocationSnapshot(sessions),
        sessions=sessions,
        clock=clock,
        dpop_replay_cache=replay_cache,
        require_bound_tokens=settings.production,
    )
    door_specs, gate_specs = split_door(budget_specs(policy))
    budgets = build_budgets(gate_specs, settings, clock, "budget:", kept=True)
    budget_state = (
        BudgetStateFile(home.budget_state_path, budgets.backend, clock)
        if isinstance(budgets.backend, MemoryBackend)
        else None
    )
    # The door's caller is always "anonymous": nobody reads its last keys.
    door = build_budgets(door_specs, settings, clock, "door:", kept=False, remember_keys=False)
    detector = build_detector(
        policy,
        engine=engine,
        canaries=canaries,
        sinks=alert_sinks(home, settings),
        revoke_principal=sessions.revoke_principal,
        clock=clock,
        feed=detection_feed(settings, budgets.backend),
        on_action=journal_lifts(journal),
    )
    if detector.feed is not None:
        try:
            detector.feed.mark_end()  # what came before is in the journal
        except FeedUnavailable as exc:
            log.warning("detection feed unavailable at start (%s)", exc)
    if remember:
        remember_detections(detector, journal, clock)
        detector.start_following()
    pipeline = Pipeline(
        registry=registry,
        policy=policy,
        budgets=budgets,
        journal=journal,
        detector=detector,
        clock=clock,
        break_glass=BreakGlassWindows(registry=registry, policy=policy, clock=clock),
    )

    def principals(principal_id: str) -> PrincipalInfo | None:
        with registry.session() as s:
            row = registry.principal(s, principal_id)
        if row is None:
            return None
        return PrincipalInfo(
            principal_id=row.public_id,
            role=row.role,
            departement=row.departement,
            dealer_id=row.dealer_public_id,
            active=row.status == "active",
        )

    def on_security_event(event: dict[str, object]) -> None:
        ip = _text(event.get("ip"))
        principal, role = _text(event.get("principal_id")), _text(event.get("role"))
        if principal and not role:
            row = principals(principal)
            role = row.role if row else None
        who = Caller(principal_id=principal, role=role or "unknown", ip=ip) if principal else None
        pipeline.record_security(
            who,
            _text(event.get("endpoint")) or "oauth",
            reason=str(event.get("type", "security")),
            ip=ip,
            detail={k: v for k, v in event.items() if k not in SECURITY_EVENT_KEYS},
        )

    def on_alert(event: dict[str, object]) -> None:
        detector.alert(
            _text(event.get("principal_id")) or "anonymous",
            _text(event.get("role")),
            _text(event.get("ip")),
            family="authentication",
            reason=str(event.get("reason") or event.get("type")),
            score=ALERT_SCORE,
            detail={"event": event.get("type")},
        )

    rules = attempt_rules(policy)
    credentials = Credentials(engine, vault=vault, clock=clock, rules=rules)
    credentials.seal_plaintext_seeds()
    investigator = Investigator(journal)
    authorization_server = AuthorizationServer(
        engine=engine,
        tokens=tokens,
        principals=principals,
        clock=clock,
        replay_cache=replay_cache,
        credentials=credentials,
        prefix_failures=PrefixFailures(
            build_budgets([PrefixFailures.spec(rules)], settings, clock, "sign_in:", kept=False)
        ),
        role_grants=role_grants,
        role_names=tuple(policy.policy.roles),
        on_security_event=on_security_event,
        on_alert=on_alert,
        public_url=public_url,
        other_network_sessions=policy.policy.sign_in.other_network_sessions,
    )
    token_issuer = TokenIssuer(
        tokens=tokens,
        role_grants=role_grants,
        principals=principals,
        require_binding=settings.production,
    )
    return Service(
        home=home,
        settings=settings,
        clock=clock,
        keys=keys,
        policy=policy,
        engine=engine,
        registry=registry,
        vault=vault,
        journal=journal,
        canaries=canaries,
        sessions=sessions,
        tokens=tokens,
        replay_cache=replay_cache,
        resource_server=resource_server,
        budgets=budgets,
        budget_state=budget_state,
        door=door,
        detector=detector,
        pipeline=pipeline,
        registry_tasks=RegistryTasks(
            pipeline=pipeline, registry=registry, vault=vault, policy=policy, clock=clock
        ),
        cases=CaseTasks(pipeline=pipeline, registry=registry, spec=policy.policy.cases),
        owner_accesses=OwnerAccesses(
            pipeline=pipeline,
            investigator=investigator,
            registry=registry,
            cases=policy.policy.cases,
        ),
        audit=AuditTasks(
            pipeline=pipeline,
            journal=journal,
            investigator=investigator,
            registry=registry,
            activity=RecentActivity(journal),
            verification_runs=VerificationRuns(engine),
            budgets=policy.policy.budgets,
            verify_journal=witnessed_check(journal, settings),
        ),
        authorization_server=authorization_server,
        token_issuer=token_issuer,
        admin=AdminTasks(
            pipeline=pipeline,
            registry=registry,
            policy=policy,
            budgets=budgets,
            detector=detector,
            revoke_tokens=sessions.revoke_principal,
            credentials=authorization_server.credentials,
            clients=authorization_server.clients,
            tokens=token_issuer,
            vault=vault,
            sessions=sessions,
        ),
        exports=ExportDesk(
            pipeline=pipeline,
            store=ExportStore(engine),
            engine=engine,
            spec=policy.policy.exports,
            watermark=Watermark(export_key(keys.honey_key())),
            exports_dir=home.exports_dir,
            clock=clock,
            is_honey=canaries.contains,
        ),
        analytics=AnalyticsDesk(
            journal=pipeline,
            engine=engine,
            vault=vault,
            pseudonym_key=keys.pseudonym_key(),
            honey_key=keys.honey_key(),
            spec=policy.policy.analytics,
            analytics_path=home.analytics_path,
            clock=clock,
        ),
    )


# What a security event's keys become in its journal entry; the rest is its detail.
SECURITY_EVENT_KEYS = frozenset({"type", "ip", "endpoint", "principal_id", "role"})
# A sign-in alert is High (OCSF severity 4): an account or a network is under attack now.
ALERT_SCORE = 60.0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def attempt_rules(policy: CompiledPolicy) -> AttemptRules:
    # The policy's section names AttemptRules' fields one for one, and the session rule.
    return AttemptRules(**policy.policy.sign_in.model_dump(exclude={"other_network_sessions"}))


def budget_specs(policy: CompiledPolicy) -> list[BudgetSpec]:
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


def split_door(specs: list[BudgetSpec]) -> tuple[list[BudgetSpec], list[BudgetSpec]]:
    """The request budgets of an IP address or prefix that apply to every role and endpoint
    are counted at the door, before any token is read (`api/admission.py`); the others by
    the pipeline, which knows who is asking."""
    door = [
        s
        for s in specs
        if s.key in ("ip", "ip_prefix")
        and s.unit == "requests"
        and s.roles is None
        and s.endpoints is None
    ]
    return door, [s for s in specs if s not in door]


def build_budgets(
    specs: list[BudgetSpec],
    settings: Settings,
    clock: Clock,
    namespace: str,
    *,
    kept: bool,
    remember_keys: bool = True,
) -> Budgets:
    """Budgets in Redis when several workers share them, else in this process (`kept`:
    with its changes collected for the home's state file)."""
    url = settings.redis_url
    backend = (
        RedisBackend(url, prefix=settings.redis_prefix + namespace)
        if url
        else MemoryBackend(track_changes=kept)
    )
    return Budgets(specs, backend, clock, remember_keys=remember_keys)


def remember_detections(detector: DetectionEngine, journal: Journal, clock: Clock) -> None:
    """Replay the journal's recent accesses into the detectors, so a restart forgets
    nothing they would still hold (DetectionEngine.replay)."""
    since = clock.now() - IDLE_DAYS * 86_400
    # Only accesses: the detectors read nothing else, and an administrative entry (a
    # lift, which journal_lifts writes) need not carry what an access event does.
    events = (
        AccessEvent.from_entry(e)
        for e in journal.entries_since(since)
        if e.get("kind", "access") == "access"
    )
    replayed = detector.replay(events, detector.list_containments(include_lifted=True))
    if replayed:
        log.info("detectors remember %d accesses of the last %d days", replayed, IDLE_DAYS)


def journal_lifts(journal: Journal) -> Callable[[Action], None]:
    """The gate journals the ladder's actions as it observes; a lift is an administrator's,
    decided inside a request, and takes the episode's other containments along: each one
    lifted gets its own administrative entry (who, why, which containment)."""

    def record(action: Action) -> None:
        if action.action == "lift":
            journal.append(action.to_entry())

    return record


def build_detector(
    policy: CompiledPolicy,
    *,
    engine: Engine,
    canaries: CanarySet,
    sinks: list[Sink],
    revoke_principal: Callable[[str], object],
    clock: Clock,
    feed: RedisEventFeed | None = None,
    on_action: Callable[[Action], None] | None = None,
) -> DetectionEngine:
    p = policy.policy
    config = DetectConfig.from_policy_section(
        {k: v.model_dump() for k, v in p.detectors.items()},
        {k: v.model_dump() for k, v in p.responses.items()},
    )
    return DetectionEngine(
        config,
        clock=clock,
        store=SqlContainmentStore(engine),
        is_canary=canaries.contains,
        sinks=sinks,
        revoke_principal=revoke_principal,
        on_action=on_action,
        feed=feed,
    )


def detection_feed(settings: Settings, backend: object) -> RedisEventFeed | None:
    """The detectors' shared feed when several workers share a Redis (detect/feed.py), on
    the budgets' connections: their short timeouts keep a hung Redis from holding the
    detectors' lock."""
    if not (settings.share_detection and isinstance(backend, RedisBackend)):
        return None
    import uuid

    return RedisEventFeed(
        backend.client, settings.redis_prefix + "detect:events", worker=uuid.uuid4().hex
    )


def witnessed_check(journal: Journal, settings: Settings) -> JournalCheck | None:
    """A full verification held to what the configured witnesses cosigned (None: none)."""
    if not settings.witnesses:
        return None
    from strongroom.journal.witness import verify_with_witnesses, witness_specs

    specs = witness_specs(settings.witnesses)
    return lambda progress: verify_with_witnesses(journal, specs, progress)


def alert_sinks(home: Home, settings: Settings) -> list[Sink]:
    """Alerts leave the building: always a JSON-lines file in the home; a signed webhook and
    RFC 5424 syslog when config.toml names them (`alerts_webhook_url` with
    `alerts_webhook_key_file`, `alerts_syslog = "host:port"`)."""
    sinks: list[Sink] = [JsonLinesSink(home.path / "alerts.jsonl")]
    url, key_file = settings.alerts_webhook_url, settings.alerts_webhook_key_file
    if url and key_file:
        sinks.append(WebhookSink(url, Path(key_file).read_bytes().strip()))
    syslog = settings.alerts_syslog
    if syslog:
        host, _, port = syslog.rpartition(":")
        sinks.append(SyslogSink(host or "127.0.0.1", int(port or 514)))
    return sinks


def access_token_verifier(
    settings: Settings,
    policy: CompiledPolicy,
    tokens: TokenService,
    role_grants: Callable[[str], RoleGrant],
    clock: Clock,
) -> AccessTokenVerifier:
    """Whose access tokens /v1 accepts: ours always, and, when config.toml names one, an
    external OpenID Connect issuer's as well (its roles mapped to ours, its scopes cut to
    the role's), each token verified by the issuer its `iss` names. Ours stay: the
    console, `strongroom call` and service accounts hold them. The provider's discovery
    and keys are fetched on its first token, not here: a CLI command on the home must not
    need the provider."""
    if not settings.external_issuer:
        return tokens
    role_map = external_role_map(settings)
    unknown = sorted(set(role_map.values()) - set(policy.policy.roles))
    if unknown:
        raise BadRequest(
            f"config.toml: external_roles maps to role(s) the policy does not have: "
            f"{', '.join(unknown)}",
            reason="invalid_config",
        )
    external = ExternalIssuer(
        settings.external_issuer,
        audience=settings.audience,
        role_map=role_map,
        role_claim=settings.external_role_claim,
        purpose_claim=settings.external_purpose_claim,
        role_grants=role_grants,
        clock=clock,
    )
    if external.issuer == tokens.issuer.rstrip("/"):
        # One name for two key sets: which one signs would be a guess.
        raise BadRequest(
            f"config.toml: external_issuer {settings.external_issuer!r} is this server's "
            f"own issuer",
            reason="invalid_config",
        )
    return TrustedIssuers({tokens.issuer: tokens, external.issuer: external})


def build_replay_cache(settings: Settings, clock: Clock, engine: Engine) -> ReplayCache:
    """DPoP proof `jti`s seen: in Redis when the deployment has one, else in the registry
    database (auth/replay_sql.py), so a proof one worker, node or run of the server accepted
    is refused by every other."""
    if settings.redis_url:
        import redis

        return RedisReplayCache(
            redis.Redis.from_url(settings.redis_url), prefix=settings.redis_prefix + "dpop:"
        )
    return SqlReplayCache(engine, clock)
