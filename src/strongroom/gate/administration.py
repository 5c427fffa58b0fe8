"""Administration: budgets, containments, principals and their credentials, OAuth clients,
the vault's key-encryption keys.

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
from strongroom.errors import BadRequest, Conflict, Forbidden, NotFound
from strongroom.gate import index_rotation
from strongroom.gate.pipeline import Answer, Disclosure, Pipeline, Task
from strongroom.gate.ports import BudgetsPort, DetectorPort, PolicyPort
from strongroom.gate.scopes import OBJECT_SCOPES
from strongroom.ids import is_public_id, new_public_id
from strongroom.registry.repository import Registry
from strongroom.vault import STORES, Rotation, Vault


class CredentialsPort(Protocol):
    def set_password(self, principal_id: str, username: str, password: str) -> None: ...
    def unlock(self, principal_id: str) -> bool: ...


class SessionsPort(Protocol):
    def open_sessions(self, limit: int = 1000) -> list[dict[str, Any]]: ...
    def active(self, session_id: str, now: float | None = None) -> object | None: ...
    def end(self, session_id: str, reason: str = "logout") -> None: ...
    def of_principal(self, principal_id: str) -> list[dict[str, Any]]: ...


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
        vault: Vault,
        sessions: SessionsPort,
    ) -> None:
        self.vault = vault
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

    def containments(self, caller: Caller, *, only_active: bool = False) -> Answer:
        """Every containment, newest first (only those in force with `only_active`), each
        with the lift request waiting for a second administrator, if any."""

        def fn(t: Task) -> dict[str, Any]:
            now = self.pipeline.clock.now()
            requests = self.detector.lift_requests()
            items = []
            for c in self.detector.list_containments(include_lifted=not only_active):
                if only_active and not c.active(now):
                    continue
                item = c.to_dict()
                request = requests.get(item["id"])
                if request is not None:
                    item["lift_request"] = request.to_dict()
                items.append(item)
            return {"items": items}

        return self.pipeline.administer(caller, ep.CONTAINMENTS, fn)

    def lift_containment(self, caller: Caller, containment_id: str, why: str) -> Answer:
        """Lift a containment; one a honey read set off is only asked to be lifted here,
        and lifted when a second administrator approves (approve_lift)."""
        detail: dict[str, Any] = {"containment": containment_id, "why": why}

        def work(t: Task) -> Disclosure:
            found = self.detector.containment(containment_id)
            if found is None:
                raise NotFound("no such containment", reason="not_found")
            if found.four_eyes and found.lifted_at is None:
                request = self.detector.request_lift(
                    containment_id, by=caller.principal_id, why=why
                )
                return Disclosure(
                    body={"lift_requested": request.to_dict(), "containment": found.to_dict()},
                    detail={**detail, "four_eyes": "requested"},
                )
            lifted = self.detector.lift(containment_id, by=caller.principal_id, why=why)
            return Disclosure(body={"lifted": lifted.to_dict()}, detail=detail)

        return self.pipeline.serve(caller, ep.LIFT_CONTAINMENT, work, expected_records=0)

    def approve_lift(self, caller: Caller, containment_id: str, note: str = "") -> Answer:
        """A second administrator approves the lift another one requested: four eyes on
        a honey read's containment, as on an export (nobody approves their own)."""
        detail: dict[str, Any] = {"containment": containment_id}
        if note.strip():
            detail["note"] = note.strip()

        def work(t: Task) -> Disclosure:
            request = self.detector.lift_requests().get(containment_id)
            if request is None:
                if self.detector.containment(containment_id) is None:
                    raise NotFound("no such containment", reason="not_found")
                raise Conflict(
                    "no lift of this containment is waiting for approval",
                    reason="no_lift_request",
                )
            if request.requested_by == caller.principal_id:
                raise Forbidden(
                    "nobody approves their own lift request: a second administrator does",
                    reason="four_eyes",
                )
            lifted = self.detector.lift(containment_id, by=caller.principal_id, why=request.why)
            return Disclosure(
                body={"lifted": lifted.to_dict(), "requested_by": request.requested_by},
                detail={**detail, "requested_by": request.requested_by, "why": request.why},
            )

        return self.pipeline.serve(caller, ep.APPROVE_LIFT, work, expected_records=0)

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

    def end_sessions(self, principal_id: str, which: str, why: str) -> int:
        """The local operator ends one of a principal's live sessions (its ID) or `all` of
        them, refresh tokens included; journaled. Returns how many ended."""
        if not why or not why.strip():
            raise BadRequest("ending a session needs a reason")
        live = [s["session"] for s in self.sessions.of_principal(principal_id)]
        targets = live if which == "all" else [which]
        if which != "all" and which not in live:
            raise NotFound("no such session", reason="not_found")
        for sid in targets:
            self.sessions.end(sid, reason="ended_by_admin")
        self.pipeline.record_admin(
            self.operator(),
            "principal sessions end",
            reason="sessions_ended",
            detail={"principal": principal_id, "sessions": len(targets), "why": why},
        )
        return len(targets)

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

    # --- erasure (crypto-shredding, CLI) -------------------------------------------------------
    def erase_person(self, public_id: str, why: str) -> dict[str, Any]:
        """Crypto-shred a person (GDPR Art. 17): their data keys, identity and address rows
        and sealed permit numbers deleted, a tombstone left, in one transaction; journaled
        as an administrative action naming the public ID and the reason (no PII) before
        it commits, so no erasure goes unrecorded. Refuses a person whose fields are still
        under shared generation keys: deleting nothing but rows would leave their
        ciphertext readable in every backup (`strongroom keys isolate` first)."""
        from sqlalchemy import select

        from strongroom.journal.investigate import ERASE_ENDPOINT
        from strongroom.registry.erasure import erase_person, on_own_keys
        from strongroom.registry.models import Person

        if not why or not why.strip():
            raise BadRequest("an erasure needs a reason (the legal ground), journaled")
        if not is_public_id(public_id):
            raise BadRequest("a person is named by its public ID (a UUID)")
        now = self.pipeline.clock.now()
        with self.registry.session() as s, s.begin():
            person = s.execute(
                select(Person).where(Person.public_id == public_id)
            ).scalar_one_or_none()
            if person is None:
                raise NotFound(f"no person {public_id}", reason="not_found")
            if person.erased_at is not None:
                raise Conflict(f"person {public_id} is already erased", reason="already_erased")
            if not on_own_keys(s, person.id):
                raise Conflict(
                    f"person {public_id} is still encrypted under shared data keys, which "
                    "erasure cannot destroy: run `strongroom keys isolate` first",
                    reason="shared_keys",
                )
            deleted = erase_person(s, person.id, now)
            self.pipeline.append(
                self.pipeline.event(
                    self.operator(),
                    ERASE_ENDPOINT,
                    "administration",
                    "allowed",
                    subjects=[public_id],
                    reason="person_erased",
                    detail={"why": why.strip(), "data_keys": len(deleted)},
                    kind="admin",
                )
            )
        self.vault.forget(deleted)
        return {"person": public_id, "erased_at": now, "data_keys_destroyed": len(deleted)}

    def isolate_persons(
        self, why: str, progress: Callable[[int, int], None] | None = None, batch: int = 500
    ) -> dict[str, Any]:
        """Re-encrypt every living person still under shared generations under keys of
        their own, `batch` persons per transaction (resumable: done persons are skipped).
        Journaled when done."""
        from strongroom.registry.erasure import isolate_batch, living_persons

        if not why or not why.strip():
            raise BadRequest("re-encrypting the registry needs a reason")
        with self.registry.session() as s:
            todo = living_persons(s)
        moved = 0
        for start in range(0, len(todo), batch):
            with self.registry.session() as s, s.begin():
                moved += isolate_batch(s, self.vault, todo[start : start + batch])
            if progress is not None:
                progress(min(start + batch, len(todo)), len(todo))
        out = {"persons": len(todo), "isolated": moved}
        self.pipeline.record_admin(
            self.operator(), "keys isolate", reason="persons_isolated", detail={**out, "why": why}
        )
        return out

    # --- the vault's key-encryption keys (CLI) -----------------------------------------------
    def rotate_keys(
        self,
        store: str,
        why: str,
        *,
        retire: bool = False,
        keep_previous: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """A new KEK version for `store`, every data key of the store re-wrapped under it,
        online: rows are untouched and the old version stays usable until retired, so
        readers in every worker keep decrypting. `retire`: then drop the versions no data
        key needs any more. Journaled when done (with what was done before a failure, the
        next run resumes: it re-wraps whatever is not under the current version)."""
        if store not in STORES:
            raise BadRequest(f"unknown key store {store!r}: one of {', '.join(STORES)}")
        if not why or not why.strip():
            raise BadRequest("a key rotation needs a reason")
        previous = self.vault.provider.kek_version(store)
        rotation: Rotation = self.vault.rotate_kek(store, progress)
        # `keep_previous`: backups taken since the last rotation hold data keys wrapped
        # under the version just replaced; they stay readable until the next rotation.
        keep = {previous} if keep_previous else set()
        retired = self.vault.retire_unused_keks(store, keep) if retire else []
        out = {
            "store": store,
            "kek_version": rotation.kek_version,
            "rewrapped": rotation.rewrapped,
            "retired": retired,
            "kept": sorted(keep) if retire else [],
        }
        self.pipeline.record_admin(
            self.operator(), "keys rotate", reason="kek_rotated", detail={**out, "why": why}
        )
        return out

    def rotate_blind_index(
        self,
        why: str,
        *,
        progress: Callable[[int, int], None] | None = None,
        batch: int = index_rotation.BATCH,
        settle: float | None = None,
    ) -> dict[str, Any]:
        """A new blind-index key version, every indexed row re-indexed under it online
        (searches look under both meanwhile), then the old version retired and destroyed;
        resumes an interrupted run. Journaled at the start and at the end."""
        if not why or not why.strip():
            raise BadRequest("a key rotation needs a reason")

        def record(reason: str, detail: dict[str, Any]) -> None:
            self.pipeline.record_admin(
                self.operator(), "keys rotate --blind-index", reason=reason, detail=detail
            )

        return index_rotation.rotate(
            self.registry,
            self.vault,
            record,
            why=why.strip(),
            now=self.pipeline.clock.now,
            progress=progress,
            batch=batch,
            settle=settle,
        )

    def blind_index_status(self) -> dict[str, Any]:
        """The blind-index key versions and the rows under each (read with `key_status`,
        which journals the inventory read)."""
        return index_rotation.status(self.registry)

    def key_status(self) -> list[dict[str, Any]]:
        """Each store's current KEK version and how many data keys each version wraps.
        Journaled: who looked at the key inventory, and when."""
        rows = []
        for store in STORES:
            usage = self.vault.kek_usage(store)
            current = self.vault.provider.kek_version(store)
            rows.append(
                {
                    "store": store,
                    "current": current,
                    "versions": {str(v): n for v, n in usage.items()},
                }
            )
        self.pipeline.record_admin(self.operator(), "keys status", reason="key_status_read")
        return rows
