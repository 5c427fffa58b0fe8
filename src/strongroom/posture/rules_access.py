"""Audit rules about who holds what: scopes, token lifetimes, refresh tokens, and which PII
travels together (the identity + address + weapon list a burglar wants)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from strongroom.posture import policy_facts as facts
from strongroom.posture import vocabulary as vocab
from strongroom.posture.findings import BaseRule, Finding, Severity
from strongroom.posture.inputs import AuditInput
from strongroom.posture.openapi_doc import (
    operations,
    property_names,
    route_key,
    success_schemas,
    task_of,
)

TOKEN_CEILING = 900
REFRESH_CEILING = 24 * 3600
TASKS_PER_SCOPE = 3


class ScopeTooBroad(BaseRule):
    id = "SR007"
    name = "scope-too-broad"
    title = "Scope broader than one task"
    help = (
        "Name scopes `resource:action` after one task (`persons:search`, "
        "`weapons:lookup`); never `admin`, `*`, `read` or a whole-registry scope."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is not None:
            for role, spec in policy.roles.items():
                for i, scope in enumerate(spec.scopes):
                    if vocab.broad_scope(scope):
                        yield self.finding(
                            f"role {role!r} holds broad scope {scope!r}",
                            audit.policy_at(("roles", role, "scopes", i)),
                        )
        schemes = (audit.openapi.get("components") or {}).get("securitySchemes") or {}
        for sname, scheme in schemes.items():
            for flow, spec in ((scheme or {}).get("flows") or {}).items():
                for scope in (spec or {}).get("scopes") or {}:
                    if vocab.broad_scope(scope):
                        yield self.finding(
                            f"security scheme {sname!r} ({flow}) offers broad scope {scope!r}",
                            audit.openapi_at(
                                (
                                    "components",
                                    "securitySchemes",
                                    sname,
                                    "flows",
                                    flow,
                                    "scopes",
                                    scope,
                                )
                            ),
                        )


class ScopeSpansTasks(BaseRule):
    id = "SR008"
    name = "scope-spans-tasks"
    title = "One scope opens endpoints of many tasks"
    severity = Severity.MEDIUM
    help = (
        "Split the scope so that each opens the endpoints of one task; a token stolen "
        "for one job should not open the others."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is None:
            return
        by_scope: dict[str, list[str]] = defaultdict(list)
        for eid, spec in policy.endpoints.items():
            by_scope[spec.scope].append(eid)
        for scope, eids in by_scope.items():
            tasks = sorted({task_of(e.split(" ", 1)[1]) for e in eids})
            if len(tasks) < TASKS_PER_SCOPE:
                continue
            records = any(facts.record_roles(policy, e) for e in eids)
            yield self.finding(
                f"scope {scope!r} opens {len(eids)} endpoints across tasks {', '.join(tasks)}",
                audit.policy_at(("endpoints", eids[0], "scope")),
                severity=Severity.HIGH if records else Severity.MEDIUM,
            )


class TokenLifetime(BaseRule):
    id = "SR009"
    name = "token-lifetime"
    title = "Access token lifetime above the ceiling"
    help = (
        f"Keep access tokens at {TOKEN_CEILING} s or less (300 s is the shipped default) "
        "and refresh tokens within a working day: a stolen token works until it expires."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        if audit.policy is not None:
            for role, spec in audit.policy.roles.items():
                if spec.token_lifetime_seconds > TOKEN_CEILING:
                    yield self.finding(
                        f"role {role!r}: access tokens live {spec.token_lifetime_seconds} s "
                        f"(ceiling {TOKEN_CEILING} s)",
                        audit.policy_at(("roles", role, "token_lifetime_seconds")),
                    )
        dep = audit.deployment
        if dep is None:
            return
        life = dep.auth.access_token_lifetime_seconds
        if life is not None and life > TOKEN_CEILING:
            yield self.finding(
                f"access tokens live {life} s (ceiling {TOKEN_CEILING} s)",
                audit.deployment_at(("auth", "access_token_lifetime_seconds")),
            )
        refresh = dep.auth.refresh_token_lifetime_seconds
        if refresh is not None and refresh > REFRESH_CEILING:
            yield self.finding(
                f"refresh tokens live {refresh} s (more than {REFRESH_CEILING} s)",
                audit.deployment_at(("auth", "refresh_token_lifetime_seconds")),
                severity=Severity.MEDIUM,
            )


class RefreshUnprotected(BaseRule):
    id = "SR010"
    name = "refresh-token-unprotected"
    title = "Refresh tokens without rotation or sender binding"
    help = (
        "Bind refresh tokens to the client's key (DPoP, RFC 9449, or mTLS, RFC 8705) "
        "and rotate them on every use with reuse detection (OAuth 2.0 Security BCP, "
        "RFC 9700 §4.14), always for public clients."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        dep = audit.deployment
        if dep is None:
            return
        for i, c in enumerate(dep.auth.clients):
            at = ("auth", "clients", i)
            for bad in sorted({"implicit", "password"} & set(c.grant_types)):
                yield self.finding(
                    f"client {c.client_id!r} allows the {bad} grant",
                    audit.deployment_at((*at, "grant_types")),
                    fix="Remove the grant (RFC 9700 §2.1.2, §2.4).",
                )
            if "refresh_token" not in c.grant_types:
                continue
            if c.sender_constraint == "none":
                yield self.finding(
                    f"client {c.client_id!r}: refresh tokens are bearer tokens (no sender binding)",
                    audit.deployment_at((*at, "sender_constraint")),
                )
            if not c.rotate_refresh_tokens:
                yield self.finding(
                    f"client {c.client_id!r}: refresh tokens are not rotated",
                    audit.deployment_at((*at, "rotate_refresh_tokens")),
                    severity=Severity.HIGH
                    if c.public or c.sender_constraint == "none"
                    else Severity.LOW,
                )


class IdentityBesideAddress(BaseRule):
    id = "SR011"
    name = "identity-beside-address"
    title = "Identity and address stored in one field category"
    help = (
        "Keep identity and address in separate categories (stored, encrypted and keyed "
        "apart by the vault, priced as a link by `links:`), so one grant or one copied "
        "table never yields who lives where."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        if audit.policy is None:
            return
        for cat, names in audit.policy.fields.items():
            ident = sorted(n for n in names if vocab.is_identity(n))
            addr = sorted(n for n in names if vocab.is_address(n))
            if ident and addr:
                yield self.finding(
                    f"category {cat!r} holds identity ({', '.join(ident)}) beside address "
                    f"({', '.join(addr)})",
                    audit.policy_at(("fields", cat), key=True),
                )


class LinkedPiiResponse(BaseRule):
    id = "SR012"
    name = "linked-pii-response"
    title = "Response links name, address and weapon for a non-owner"
    help = (
        "Return only what the caller's purpose needs; a response that carries name, "
        "home address and weapons together should exist for the owner's own record "
        "only, never for staff lookups or lists."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        doc = audit.openapi
        roles_of: dict[str, set[str]] = {}
        if audit.policy is not None:
            for eid, spec in audit.policy.endpoints.items():
                roles_of[route_key(*eid.split(" ", 1))] = set(spec.roles)
        for op in operations(doc):
            if roles_of.get(op.key) == {"owner"}:
                continue
            for at, schema in success_schemas(doc, op):
                names = property_names(doc, schema)
                if (
                    any(vocab.is_identity(n) for n in names)
                    and any(vocab.is_address(n) for n in names)
                    and any(vocab.is_weapon(n) for n in names)
                ):
                    yield self.finding(
                        f"{op.label}: response schema carries identity, address "
                        "and weapon properties together",
                        audit.openapi_at(at),
                    )
