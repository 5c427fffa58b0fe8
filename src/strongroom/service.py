"""The composition root: builds every layer from a home folder and wires them together.

The API and the CLI are adapters over a `Service`; nothing else constructs layers.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from typing import Any

from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.config import Home, Settings
from strongroom.context import Caller
from strongroom.errors import StrongroomError, Unauthorized

log = logging.getLogger("strongroom.service")


def initialize(
    home: Home,
    *,
    registry_url: str | None = None,
    journal_url: str | None = None,
    redis_url: str | None = None,
) -> Settings:
    """Create the home folder: config, policy copy, keys (0600 in a 0700 folder), the
    registry schema (Alembic) and the journal schema. Idempotent: existing keys are kept."""
    from strongroom.auth.keys import ensure_signing_keys
    from strongroom.journal import create_checkpoint_key
    from strongroom.journal.checkpoint import SIGNER_FILE
    from strongroom.policy import DEFAULT_POLICY_PATH
    from strongroom.registry.db import upgrade
    from strongroom.vault import FileKeyProvider

    home.ensure_dirs()
    if home.exists():
        settings = home.settings()
        if registry_url or journal_url or redis_url:
            settings = replace(
                settings,
                registry_url=registry_url or settings.registry_url,
                journal_url=journal_url or settings.journal_url,
                redis_url=redis_url or settings.redis_url,
            )
            home.write_config(settings)
    else:
        defaults = home.default_settings()
        settings = replace(
            defaults,
            registry_url=registry_url or defaults.registry_url,
            journal_url=journal_url or defaults.journal_url,
            redis_url=redis_url,
        )
        home.write_config(settings)
    if not home.policy_path.exists():
        shutil.copyfile(DEFAULT_POLICY_PATH, home.policy_path)
    FileKeyProvider.create(home.keys_dir)
    ensure_signing_keys(home.keys_dir)
    if not (home.keys_dir / SIGNER_FILE).exists():
        create_checkpoint_key(home.keys_dir)
    upgrade(settings.registry_url)
    return settings


class Service:
    """Every layer, built once per process from the home folder."""

    def __init__(self, home: Home, *, clock: Clock = SYSTEM_CLOCK) -> None:
        from strongroom.auth.resource_server import ResourceServer
        from strongroom.auth.rfc9068 import TokenService
        from strongroom.budgets import BudgetKeys
        from strongroom.gate import Gate
        from strongroom.journal import Journal, load_signer
        from strongroom.policy import compile_policy, load_policy
        from strongroom.registry.canaries import CanarySet
        from strongroom.registry.db import make_engine
        from strongroom.registry.keystore import SqlWrappedKeyStore
        from strongroom.registry.repository import Registry
        from strongroom.vault import FileKeyProvider, Vault
        from strongroom.wiring import (
            build_authorization_server,
            build_budgets,
            build_detector,
            build_replay_cache,
            build_revocations,
        )

        self.home = home
        self.clock = clock
        self.settings = home.settings()
        self.keys = FileKeyProvider(home.keys_dir)
        self.policy = compile_policy(
            load_policy(home.policy_path), self.keys.pseudonym_key(), clock=clock
        )
        self.engine = make_engine(self.settings.registry_url)
        self.registry = Registry(self.engine)
        self.vault = Vault(self.keys, SqlWrappedKeyStore(self.engine))
        self.journal = Journal.open(
            self.settings.journal_url, signer=load_signer(home.keys_dir), clock=clock
        )
        self.canaries = CanarySet(self.engine, self.keys.honey_key())
        self.revocations = build_revocations(self)
        self.tokens = TokenService(
            home.keys_dir, issuer=self.settings.issuer, audience=self.settings.audience, clock=clock
        )
        self.replay_cache = build_replay_cache(self)
        self.resource_server = ResourceServer(
            self.tokens,
            revocations=self.revocations,
            sessions=self.revocations,
            clock=clock,
            dpop_replay_cache=self.replay_cache,
        )
        self.budgets = build_budgets(self)
        self.detector = build_detector(self)

        def budget_keys(caller: Caller, endpoint: str) -> BudgetKeys:
            return BudgetKeys(
                principal=caller.principal_id,
                session=caller.session_id,
                client=caller.client_id,
                organisation=caller.dealer_id,
                ip=caller.ip,
                role=caller.role,
                endpoint=endpoint,
            )

        self.gate = Gate(
            registry=self.registry,
            vault=self.vault,
            policy=self.policy,
            budgets=self.budgets,
            journal=self.journal,
            detector=self.detector,
            clock=clock,
            is_canary=self.canaries.contains,
            budget_keys=budget_keys,
            revoke_tokens=self.revocations.revoke_principal,
        )
        self.authorization_server = build_authorization_server(self)
        from strongroom.exports.desk import build_export_desk

        self.exports = build_export_desk(self)

    # --- used by the API adapter ---------------------------------------------------------
    def authenticate(self, request: Any) -> Caller:
        from strongroom.budgets import client_ip

        peer = request.client.host if request.client else None
        ip = client_ip(
            peer or "0.0.0.0",  # noqa: S104
            request.headers.get("x-forwarded-for"),
            self.settings.trusted_proxies,
        )
        try:
            caller = self.resource_server.authenticate(
                authorization=request.headers.get("authorization"),
                dpop=request.headers.get("dpop"),
                method=request.method,
                url=str(request.url),
                ip=ip,
                user_agent=request.headers.get("user-agent"),
            )
        except Unauthorized as exc:
            self.gate.record_security(
                None,
                f"{request.method} {request.url.path}",
                reason=exc.reason or "unauthorized",
                ip=ip,
            )
            raise
        return self.gate.bind_principal(caller)

    def journal_rejected(self, request: Any, err: StrongroomError) -> None:
        """Journal a request refused before it reached the gate (malformed input)."""
        try:
            caller = self.authenticate(request)
        except StrongroomError:
            return  # already journaled as a security event
        route = request.scope.get("route")
        endpoint = f"{request.method} {getattr(route, 'path', request.url.path)}"
        self.gate.record_refusal(caller, endpoint, err)

    def extra_routers(self) -> list[Any]:
        from strongroom.api.oauth_routes import make_oauth_router

        return [make_oauth_router(self.authorization_server)]

    def close(self) -> None:
        # A clean stop leaves the log's tail signed, so a verifier needs no live server.
        checkpoints = self.journal.checkpoints()
        signed = checkpoints[-1][1] if checkpoints else 0
        if self.journal.size() > signed:
            self.journal.make_checkpoint()
        self.journal.close()
        self.engine.dispose()

    # --- administration (the CLI acts as the local operator) ----------------------------
    def operator(self) -> Caller:
        import getpass

        return Caller(
            principal_id=f"operator:{getpass.getuser()}",
            role="admin",
            purpose="administration",
            client_id="strongroom-cli",
            scopes=frozenset(self.policy.role("admin").scopes),
        )

    def add_principal(
        self,
        *,
        role: str,
        departement: str | None = None,
        dealer: str | None = None,
        label: str = "",
    ) -> str:
        from strongroom.context import STAFF_ROLES
        from strongroom.errors import BadRequest
        from strongroom.ids import is_public_id, new_public_id

        if role not in STAFF_ROLES:
            raise BadRequest(f"unknown staff role {role!r}; one of: {', '.join(STAFF_ROLES)}")
        if role == "prefecture" and not departement:
            raise BadRequest("a prefecture agent needs --departement")
        if role == "dealer" and not dealer:
            raise BadRequest("a dealer account needs --dealer (the dealer's ID)")
        if role != "dealer" and dealer:
            raise BadRequest("--dealer is only for dealer accounts")
        with self.registry.session() as s, s.begin():
            dealer_pk = None
            if dealer:
                dealer_pk = self.registry.dealer_pk(s, dealer) if is_public_id(dealer) else None
                if dealer_pk is None:
                    raise BadRequest(f"no dealer with ID {dealer}")
            pid = new_public_id()
            self.registry.add_principal(
                s,
                public_id=pid,
                role=role,
                departement=departement,
                dealer_pk=dealer_pk,
                label=label,
                at=self.clock.now(),
            )
        self.gate.record_admin(
            self.operator(),
            "principal add",
            reason="principal_created",
            detail={"principal": pid, "role": role},
        )
        return pid

    def list_principals(self) -> list[dict[str, Any]]:
        with self.registry.session() as s:
            rows = self.registry.principals(s)
        return [
            {
                "id": r.public_id,
                "role": r.role,
                "departement": r.departement,
                "dealer": r.dealer_public_id,
                "status": r.status,
                "label": r.label,
            }
            for r in rows
        ]

    def revoke_principal(self, principal_id: str, *, why: str) -> None:
        self.gate.revoke_principal(self.operator(), principal_id, why)

    def issue_demo_token(
        self,
        *,
        role: str,
        subject: str,
        purpose: str | None = None,
        case: str | None = None,
        justification: str | None = None,
        lifetime: int | None = None,
        **claims: Any,
    ) -> str:
        """An access token for scripts, demos and tests, with the role's scopes and
        default purpose from the policy (what `strongroom token issue` prints)."""
        from strongroom.auth.role_grants import grant_from_policy

        grant = grant_from_policy(self.policy, role)
        departement = dealer = None
        if role != "owner":
            with self.registry.session() as s:
                row = self.registry.principal(s, subject)
            if row is not None:
                departement, dealer = row.departement, row.dealer_public_id
        return self.tokens.issue_access_token(
            subject=subject,
            role=role,
            scopes=claims.pop("scopes", grant.scopes),
            purpose=purpose or grant.default_purpose,
            case=case,
            departement=departement,
            dealer_id=dealer,
            lifetime=lifetime or grant.token_lifetime_seconds,
            justification=justification,
            **claims,
        )

    def set_password(self, principal_id: str, username: str, password: str) -> None:
        from strongroom.errors import NotFound

        with self.registry.session() as s:
            if self.registry.principal(s, principal_id) is None:
                raise NotFound(f"no principal {principal_id}")
        self.authorization_server.credentials.set_password(principal_id, username, password)
        self.gate.record_admin(
            self.operator(),
            "principal password",
            reason="credentials_set",
            detail={"principal": principal_id},
        )

    def register_client(self, client_id: str, **options: Any) -> Any:
        client = self.authorization_server.clients.register(client_id, **options)
        self.gate.record_admin(
            self.operator(), "client add", reason="client_registered", detail={"client": client_id}
        )
        return client
