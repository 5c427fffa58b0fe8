"""Administration: budgets, containments, principals and their credentials, OAuth clients.

Administrators configure and contain; they never see a PII value. Actions with an HTTP
route run through the pipeline under the endpoint's policy; actions of the local operator
(the CLI) are checked here and journaled as administrative entries.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any, Protocol

from strongroom import endpoints as ep
from strongroom.auth.clients import Client, ClientRegistry
from strongroom.auth.token_issue import TokenIssuer
from strongroom.context import Caller
from strongroom.errors import BadRequest, NotFound
from strongroom.gate.pipeline import Answer, Pipeline, Task
from strongroom.gate.ports import BudgetsPort, DetectorPort, PolicyPort
from strongroom.gate.scopes import OBJECT_SCOPES
from strongroom.ids import is_public_id, new_public_id
from strongroom.registry.repository import Registry


class CredentialsPort(Protocol):
    def set_password(self, principal_id: str, username: str, password: str) -> None: ...
    def unlock(self, principal_id: str) -> bool: ...


class SessionsPort(Protocol):
    def open_sessions(self, limit: int = 1000) -> list[dict[str, Any]]: ...
    def active(self, session_id: str, now: float | None = None) -> object | None: ...
    def end(self, session_id: str, reason: str = "logout") -> None: ...


class AdminTasks:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        registry: Registry,
        policy: PolicyPort,
        budgets: BudgetsPort,
        detector: DetectorPort,
        revoke_tokens: Callable[[str], None],
        credentials: CredentialsPort,
        clients: ClientRegistry,
        tokens: TokenIssuer,
        sessions: SessionsPort,
    ) -> None:
        self.pipeline = pipeline
        self.registry = registry
        self.policy = policy
        self.budgets = budgets
        self.detector = detector
        self.revoke_tokens = revoke_tokens
        self.credentials = credentials
        self.clients = clients
        self.tokens = tokens
        self.sessions = sessions

    def operator(self) -> Caller:
        """The local operator: whoever runs the CLI on the server, as an administrator."""
        return Caller(
            principal_id=f"operator:{getpass.getuser()}",
            role="admin",
            purpose="administration",
            client_id="strongroom-cli",
            scopes=frozenset(self.policy.role("admin").scopes),
        )

    # --- budgets and containment (HTTP) ------------------------------------------------------
    def budget_state(self, caller: Caller, principal: str) -> Answer:
        return self.pipeline.administer(
            caller,
            ep.BUDGET_STATE,
            lambda t: {"principal": principal, "budgets": self.budgets.state(principal)},
        )

    def containments(self, caller: Caller) -> Answer:
        return self.pipeline.administer(
            caller,
            ep.CONTAINMENTS,
            lambda t: {"items": [c.to_dict() for c in self.detector.list_containments()]},
        )

    def lift_containment(self, caller: Caller, containment_id: str, why: str) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            lifted = self.detector.lift(containment_id, by=caller.principal_id, why=why)
            return {"lifted": lifted.to_dict()}

        return self.pipeline.administer(
            caller, ep.LIFT_CONTAINMENT, fn, detail={"containment": containment_id, "why": why}
        )

    def revoke_principal(self, caller: Caller, principal_id: str, why: str) -> Answer:
        """Suspend a staff principal and revoke every token it holds: effective on its next
        request to any worker (the principals table and the revocation store are shared)."""

        def fn(t: Task) -> dict[str, Any]:
            with self.registry.session() as s, s.begin():
                if not self.registry.set_principal_status(s, principal_id, "suspended"):
                    raise NotFound("no such principal", reason="not_found")
            self.revoke_tokens(principal_id)
            return {"principal": principal_id, "status": "suspended"}

        return self.pipeline.administer(
            caller, ep.REVOKE_PRINCIPAL, fn, detail={"principal": principal_id, "why": why}
        )

    def principals(self, caller: Caller) -> Answer:
        """Staff principals (role, département, status, label) and their open sessions."""

        def fn(t: Task) -> dict[str, Any]:
            open_ = self.sessions.open_sessions(limit=t.page_size)
            by_principal: dict[str, list[dict[str, Any]]] = {}
            for sess in open_:
                by_principal.setdefault(str(sess["principal"]), []).append(sess)
            items = [
                {**p, "sessions": by_principal.get(p["id"], [])} for p in self.list_principals()
            ]
            return {"items": items[: t.page_size], "open_sessions": len(open_)}

        return self.pipeline.administer(caller, ep.PRINCIPALS, fn)

    def end_session(self, caller: Caller, session_id: str, why: str) -> Answer:
        """End one sign-in session and revoke its refresh tokens: its access tokens are
        refused from the next request on (the session is checked on each one)."""
        if not why or len(why.strip()) < 5:
            raise BadRequest("ending a session needs a reason", reason="invalid_input")

        def fn(t: Task) -> dict[str, Any]:
            if self.sessions.active(session_id) is None:
                raise NotFound("no such open session", reason="not_found")
            self.sessions.end(session_id, reason="ended_by_admin")
            return {"session": session_id, "status": "ended"}

        return self.pipeline.administer(
            caller, ep.END_SESSION, fn, detail={"session": session_id, "why": why}
        )

    # --- principals and clients (the local operator) -----------------------------------------
    def add_principal(
        self,
        *,
        role: str,
        departement: str | None = None,
        dealer: str | None = None,
        label: str = "",
    ) -> str:
        staff = self.policy.staff_roles()
        if role not in staff:
            raise BadRequest(f"unknown staff role {role!r}; one of: {', '.join(staff)}")
        needs = OBJECT_SCOPES[self.policy.role(role).object_scope].needs
        if needs == "departement" and not departement:
            raise BadRequest(f"a {role} account needs --departement")
        if needs == "dealer" and not dealer:
            raise BadRequest(f"a {role} account needs --dealer (the dealer's ID)")
        if needs != "dealer" and dealer:
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
                at=self.pipeline.clock.now(),
            )
        self.pipeline.record_admin(
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

    def set_password(self, principal_id: str, username: str, password: str) -> None:
        with self.registry.session() as s:
            if self.registry.principal(s, principal_id) is None:
                raise NotFound(f"no principal {principal_id}")
        self.credentials.set_password(principal_id, username, password)
        self.pipeline.record_admin(
            self.operator(),
            "principal password",
            reason="credentials_set",
            detail={"principal": principal_id},
        )

    def unlock_principal(self, principal_id: str, why: str) -> None:
        """Lift the lock failed sign-ins put on an account. An administrator does it, with
        a reason for the journal, once the account's owner has been reached: the lock
        exists because someone else may hold the password."""
        if not why or not why.strip():
            raise BadRequest("unlocking an account needs a reason")
        if not self.credentials.unlock(principal_id):
            raise NotFound(f"no credentials for principal {principal_id}", reason="not_found")
        self.pipeline.record_admin(
            self.operator(),
            "principal unlock",
            reason="sign_in_unlocked",
            detail={"principal": principal_id, "why": why},
        )

    def issue_token(
        self,
        *,
        role: str,
        subject: str,
        jkt: str,
        scopes: frozenset[str] | None = None,
        purpose: str | None = None,
        case: str | None = None,
        justification: str | None = None,
        lifetime: int | None = None,
    ) -> str:
        """A DPoP-bound access token minted by the local operator (production mode's only
        `strongroom token issue`). It is a credential handed out by hand, outside any
        sign-in, so the journal records who minted what for whom before it is shown."""
        extra: dict[str, Any] = {"scopes": scopes} if scopes else {}
        token = self.tokens.issue(
            role=role,
            subject=subject,
            purpose=purpose,
            case=case,
            justification=justification,
            lifetime=lifetime,
            jkt=jkt,
            **extra,
        )
        self.pipeline.record_admin(
            self.operator(),
            "token issue",
            reason="token_issued",
            detail={
                "subject": subject,
                "role": role,
                "jkt": jkt,
                "scopes": sorted(scopes) if scopes else None,
                "purpose": purpose,
                "case": case,
                "lifetime": lifetime,
            },
        )
        return token

    def register_client(self, client_id: str, **options: Any) -> Client:
        client = self.clients.register(client_id, **options)
        self.pipeline.record_admin(
            self.operator(), "client add", reason="client_registered", detail={"client": client_id}
        )
        return client
