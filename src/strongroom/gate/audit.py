"""Audit and investigations, for auditors and the data protection officer: the journal's
checkpoints and proofs, what a principal saw, who saw a person, the breach report, and
the break-glass reviews. None of it returns a PII value: the journal holds pseudonymous
IDs and field names."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from strongroom import endpoints as ep
from strongroom.context import Caller
from strongroom.detect.ocsf import severity_id
from strongroom.errors import BadRequest, Conflict, Forbidden, NotFound
from strongroom.gate.break_glass import review_dict
from strongroom.gate.pipeline import Answer, Pipeline, Task
from strongroom.gate.ports import JournalPort
from strongroom.gate.verification_runs import HEARTBEAT_SECONDS, VerificationRuns
from strongroom.journal.activity import RecentActivity
from strongroom.journal.investigate import Investigator
from strongroom.journal.log import b64
from strongroom.policy.model import BudgetSpec
from strongroom.registry.repository import Registry


class AuditTasks:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        journal: JournalPort,
        investigator: Investigator,
        registry: Registry,
        activity: RecentActivity,
        verification_runs: VerificationRuns,
        budgets: Sequence[BudgetSpec] = (),
        verify_journal: JournalCheck | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.journal = journal
        self.investigator = investigator
        self.registry = registry
        self.activity = activity
        self.budgets = tuple(budgets)
        self.verification = Verification(pipeline, journal, verification_runs, verify_journal)

    # --- the journal -----------------------------------------------------------------------
    def journal_checkpoint(self, caller: Caller) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            note = self.journal.latest_checkpoint() or self.journal.make_checkpoint()
            return {"checkpoint": note, "size": self.journal.size()}

        return self.pipeline.administer(caller, ep.CHECKPOINT, fn)

    def inclusion_proof(self, caller: Caller, index: int, size: int) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            proof = self.journal.inclusion_proof(index, size)
            return {"index": index, "size": size, "proof": [b64(h) for h in proof]}

        return self.pipeline.administer(caller, ep.INCLUSION, fn)

    def consistency_proof(self, caller: Caller, first: int, second: int) -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            proof = self.journal.consistency_proof(first, second)
            return {"first": first, "second": second, "proof": [b64(h) for h in proof]}

        return self.pipeline.administer(caller, ep.CONSISTENCY, fn)

    def verification_status(self, caller: Caller) -> Answer:
        return self.pipeline.administer(
            caller, ep.VERIFICATION, lambda t: self.verification.status()
        )

    def start_verification(self, caller: Caller) -> Answer:
        """Start recomputing the whole tree and checking every checkpoint, in the
        background; its end (ok or the first bad index) is journaled too."""
        return self.pipeline.administer(
            caller, ep.VERIFY_JOURNAL, lambda t: self.verification.start(caller)
        )

    # --- investigations --------------------------------------------------------------------
    def investigate_principal(
        self, caller: Caller, principal: str, since: float | None, until: float | None
    ) -> Answer:
        return self.pipeline.administer(
            caller,
            ep.INVESTIGATE_PRINCIPAL,
            lambda t: self._flushed(self.investigator.principal_report, principal, since, until),
            detail={"investigated": principal},
        )

    def principal_timeline(
        self,
        caller: Caller,
        principal: str,
        since: float | None,
        before: int | None,
        limit: int,
        *,
        until: float | None = None,
    ) -> Answer:
        """One page of what a principal did in [since, until), newest first, and how many
        entries the window holds (the incident's timeline, the investigation page; the
        whole report is `investigate_principal`)."""
        if not 1 <= limit <= 200:
            raise BadRequest("limit is between 1 and 200", reason="invalid_input")
        if before is not None and before < 0:
            raise BadRequest("before is an entry index", reason="invalid_input")
        return self.pipeline.administer(
            caller,
            ep.INVESTIGATE_PRINCIPAL,
            lambda t: self._flushed(
                functools.partial(self.investigator.principal_page, until=until),
                principal,
                since,
                before,
                limit,
            ),
            detail={"investigated": principal, "page_before": before},
        )

    def investigate_subject(self, caller: Caller, subject: str) -> Answer:
        return self.pipeline.administer(
            caller,
            ep.INVESTIGATE_SUBJECT,
            lambda t: self._flushed(self.investigator.subject_report, subject),
            detail={"investigated_subject": subject},
        )

    def breach_report(
        self, caller: Caller, principals: list[str], since: float | None, until: float | None
    ) -> Answer:
        return self.pipeline.administer(
            caller,
            ep.BREACH,
            lambda t: self._flushed(self.investigator.breach_report, principals, since, until),
            detail={"investigated": principals},
        )

    def _flushed(self, report: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        # Refusals are committed without their caller waiting: an investigation waits for
        # every entry appended before it, so its counts are exact.
        self.journal.flush()
        return report(*args)

    # --- alerts and extraction curves (the SOC, administrators) ------------------------------
    def alerts(
        self,
        caller: Caller,
        *,
        hours: int = 24,
        family: str | None = None,
        role: str | None = None,
        severity: int | None = None,
        principal: str | None = None,
    ) -> Answer:
        """The detectors' decisions of the last `hours`, newest first: who, which families,
        the risk and its OCSF severity (2 low .. 5 critical), the rung or containment."""
        if not 1 <= hours <= 24 * 90:
            raise BadRequest("hours is between 1 and 2160", reason="invalid_input")

        def fn(t: Task) -> dict[str, Any]:
            since = self.pipeline.clock.now() - hours * 3600
            scan = self.activity.alerts(since, AUTHENTICATION_ALERTS, principal)
            items = []
            for index, e in scan.entries:
                alert = alert_dict(index, e)
                if family is not None and family not in alert["families"]:
                    continue
                if role is not None and alert["role"] != role:
                    continue
                if principal is not None and alert["principal"] != principal:
                    continue
                if severity is not None and alert["severity"] < severity:
                    continue
                items.append(alert)
                if len(items) >= t.page_size:
                    break
            return {"items": items, "scanned": scan.scanned, "truncated": scan.truncated}

        return self.pipeline.administer(
            caller,
            ep.ALERTS,
            fn,
            detail={"alerts": {"hours": hours, "family": family, "principal": principal}},
        )

    def extraction(
        self,
        caller: Caller,
        *,
        principal: str | None = None,
        role: str | None = None,
        bucket: str = "hour",
    ) -> Answer:
        """Records and distinct subjects per hour (the last 24) or day (the last 14), for a
        principal, a role or the whole service, with the peers' mean and the budgets that
        apply per principal in a window of that length."""
        if bucket not in BUCKETS:
            raise BadRequest("bucket is hour or day", reason="invalid_input")
        if principal is not None and role is not None:
            raise BadRequest("name a principal or a role, not both", reason="invalid_input")
        seconds, count = BUCKETS[bucket]

        def fn(t: Task) -> dict[str, Any]:
            now = self.pipeline.clock.now()
            since = (now // seconds - count + 1) * seconds
            body = self.activity.curves(since, now + 1, seconds, principal=principal, role=role)
            peer_role = body.get("peer_role")
            body["budgets"] = [
                {"name": b.name, "unit": b.unit, "limit": b.limit, "window": b.window_seconds}
                for b in self.budgets
                if b.key == "principal"
                and b.unit in ("records", "subjects")
                and b.window_seconds == seconds
                and not b.shadow
                and (b.roles is None or peer_role in b.roles)
                and (principal is not None or role is not None)
            ]
            return body

        return self.pipeline.administer(
            caller,
            ep.ACTIVITY,
            fn,
            detail={"activity": {"principal": principal, "role": role, "bucket": bucket}},
        )

    # --- break-glass reviews (the data protection officer) ---------------------------------
    def reviews(self, caller: Caller, status: str | None = "pending") -> Answer:
        def fn(t: Task) -> dict[str, Any]:
            with self.registry.session() as s:
                rows = self.registry.reviews(s, status=status, limit=t.page_size)
                return {"items": [review_dict(r) for r in rows]}

        return self.pipeline.administer(caller, ep.REVIEWS, fn)

    def decide_review(self, caller: Caller, review_id: str, decision: str, note: str) -> Answer:
        if decision not in ("approved", "rejected"):
            raise BadRequest("decision must be 'approved' or 'rejected'", reason="invalid_input")

        def fn(t: Task) -> dict[str, Any]:
            with self.registry.session() as s, s.begin():
                review = self.registry.review(s, review_id)
                if review is None:
                    raise NotFound("no such review", reason="not_found")
                if review.status != "pending":
                    raise Conflict(
                        f"this review is already {review.status}", reason="already_decided"
                    )
                if review.principal_id == caller.principal_id:
                    raise Forbidden(
                        "nobody reviews their own break-glass access", reason="four_eyes"
                    )
                review.status = decision
                review.decided_by = caller.principal_id
                review.decided_at = self.pipeline.clock.now()
                review.decision_note = note
                return review_dict(review)

        return self.pipeline.administer(
            caller, ep.DECIDE_REVIEW, fn, detail={"review": review_id, "decision": decision}
        )


BUCKETS = {"hour": (3600, 24), "day": (86400, 14)}

# Security events the SOC must see beside the detectors' decisions (the authorization
# server sends most of them to the alert sinks too), with the risk they are shown at: a
# replayed code or refresh token means a token was stolen.
AUTHENTICATION_ALERTS = {
    "authorization_code_replay": 90.0,
    "refresh_token_reuse": 90.0,
    "passkey_cloned": 90.0,
    "account_locked": 60.0,
    "ip_prefix_limited": 60.0,
    "passkey_registered": 30.0,
}


def alert_dict(index: int, entry: dict[str, Any]) -> dict[str, Any]:
    """One detector decision as the console and the API show it (journal keys only)."""
    detail = entry.get("detail") or {}
    families = [str(f) for f in detail.get("families", [])]
    risk = float(detail.get("risk", 0.0))
    if entry.get("kind") == "security" and entry.get("endpoint") != "detect":
        families = ["authentication"]
        risk = AUTHENTICATION_ALERTS.get(str(entry.get("reason")), 30.0)
        detail = {"action": entry.get("reason")}
    return {
        "index": index,
        "ts": entry.get("ts"),
        "principal": entry.get("principal"),
        "role": entry.get("role"),
        "action": detail.get("action"),
        "reason": entry.get("reason"),
        "outcome": entry.get("outcome"),
        "families": families,
        "risk": risk,
        "severity": max((severity_id(risk, f) for f in families), default=severity_id(risk, "")),
        "shadow": bool(detail.get("shadow", False)),
        "containment": detail.get("containment"),
        "by": detail.get("by"),
        "why": detail.get("why"),
    }


log = logging.getLogger("strongroom.gate.audit")


# A full verification with a progress callback: (its report, a line per witness asked).
JournalCheck = Callable[[Callable[[int, int], None]], tuple[Any, list[str]]]


class Verification:
    """One full verification of the journal at a time across every worker, run in a thread
    of the worker that started it; its progress and its report are kept in the registry
    database (`verification_runs.py`), so any worker's journal page shows them."""

    def __init__(
        self,
        pipeline: Pipeline,
        journal: JournalPort,
        runs: VerificationRuns,
        check: JournalCheck | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.journal = journal
        self.runs = runs
        # With witnesses configured, the check holds the journal to what they cosigned, as
        # `strongroom journal verify` does.
        self.check: JournalCheck = check or (
            lambda progress: (journal.verify(progress=progress), [])
        )

    def status(self) -> dict[str, Any]:
        return self.runs.status(self.pipeline.clock.now())

    def start(self, caller: Caller) -> dict[str, Any]:
        run_id = uuid.uuid4().hex
        if not self.runs.start(
            run_id, caller.principal_id, self.journal.size(), self.pipeline.clock.now()
        ):
            raise Conflict("a verification is already running", reason="already_running")
        started = self.status()
        threading.Thread(
            target=self._run, args=(caller, run_id), name="journal-verify", daemon=True
        ).start()
        return started

    def _run(self, caller: Caller, run_id: str) -> None:
        clock = self.pipeline.clock
        done = threading.Event()

        def beat() -> None:
            # Between progress reports (the checkpoints' check reports none), so the other
            # workers do not take this run for one whose worker died.
            while not done.wait(HEARTBEAT_SECONDS):
                with contextlib.suppress(Exception):
                    self.runs.beat(run_id, clock.now())

        def progress(checked: int, total: int) -> None:
            self.runs.progress(run_id, checked, total, clock.now())

        threading.Thread(target=beat, name="journal-verify-beat", daemon=True).start()
        try:
            self.journal.flush()
            result, witnesses = self.check(progress)
            report = {**result.to_dict(), "witnesses": witnesses}
        except Exception as exc:  # noqa: BLE001 - reported on the page, never lost
            log.error("journal verification failed: %s", type(exc).__name__)
            done.set()
            with contextlib.suppress(Exception):
                self.runs.finish(run_id, clock.now(), None)
            return
        done.set()
        self.runs.finish(run_id, clock.now(), report)
        self.pipeline.record_admin(
            caller,
            "journal verify",
            reason="journal_verified" if report["ok"] else "journal_verification_failed",
            detail={
                "size": report["size"],
                "ok": report["ok"],
                "first_bad_index": report["first_bad_index"],
            },
        )
