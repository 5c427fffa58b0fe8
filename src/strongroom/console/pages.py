"""The console's pages. Each is a thin handler: the session's caller, one gate use case
(the same the API routes call, journaled under the same endpoint), a template. Forms are
POSTed with the session's CSRF token and answered with a redirect (post/redirect/get)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from strongroom import endpoints as ep
from strongroom.compose import Service
from strongroom.console.charts import bar_chart
from strongroom.console.pdf import text_pdf
from strongroom.console.web import (
    PREFIX,
    SECURITY_HEADERS,
    Console,
    CsrfRefused,
    SignInRequired,
    static_asset,
)
from strongroom.context import Caller
from strongroom.errors import BadRequest, StrongroomError
from strongroom.journal.investigate import breach_markdown

Work = Callable[[Caller], Response]
# Entries of a principal's timeline per page (an incident, an investigation).
TIMELINE_PAGE = 50


def make_console_router(service: Service) -> APIRouter:
    console = Console(service)
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def page(request: Request, work: Work) -> Response:
        """Run `work` for the signed-in caller; a missing or dead session goes to sign-in,
        a refusal of the gate is shown as an error page with its status."""
        try:
            session = console.session(request)
            who = console.caller(request, session)
        except SignInRequired:
            return see_other("/sign-in")
        except StrongroomError as exc:  # the principal suspended, storage down, ...
            return console.failure(None, exc)
        request.state.console_session = session
        try:
            return work(who)
        except StrongroomError as exc:
            return console.failure(session, exc)

    async def action(request: Request, work: Callable[[Caller, dict[str, str]], str]) -> Response:
        """A form: the CSRF token first (403 without it or with another session's), then
        the caller, then `work`, which returns where to go next."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

        def run() -> Response:
            try:
                session = console.session(request)
                console.check_csrf(session, form)
            except SignInRequired:
                return console.render(
                    "error.html",
                    status=403,
                    title="Forbidden",
                    detail="no console session: sign in first",
                    reason="csrf",
                )
            except CsrfRefused:
                return console.render(
                    "error.html",
                    session=None,
                    status=403,
                    title="Forbidden",
                    detail="this form's CSRF token is missing or wrong",
                    reason="csrf",
                )
            try:
                who = console.caller(request, session)
            except SignInRequired:
                return see_other("/sign-in")
            except StrongroomError as exc:
                return console.failure(None, exc)
            try:
                return see_other(work(who, form))
            except StrongroomError as exc:
                return console.failure(session, exc)

        return await anyio.to_thread.run_sync(run)

    # --- sign-in --------------------------------------------------------------------------
    @router.get("/sign-in")
    def sign_in(request: Request) -> Response:
        return console.render("sign_in.html", error=None)

    @router.get("/sign-in/start")
    def sign_in_start(request: Request) -> Response:
        return console.start_sign_in(request.query_params.get("purpose") or None)

    @router.get("/callback")
    def callback(request: Request) -> Response:
        return console.finish_sign_in(request)

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            session = console.session(request)
            console.check_csrf(session, form)
        except (SignInRequired, CsrfRefused):
            return console.render(
                "error.html", status=403, title="Forbidden", detail="CSRF token refused"
            )
        return await anyio.to_thread.run_sync(console.sign_out, session)

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        found = static_asset(name)
        if found is None:
            return Response(status_code=404, headers=SECURITY_HEADERS)
        body, media = found
        return Response(
            body,
            media_type=media,
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    # --- home -----------------------------------------------------------------------------
    @router.get("/")
    def home(request: Request) -> Response:
        def work(who: Caller) -> Response:
            session = request.state.console_session
            return console.render("home.html", session=session, who=who)

        return page(request, work)

    # --- alerts and incidents -------------------------------------------------------------
    def alert_filters(request: Request) -> dict[str, Any]:
        q = request.query_params
        filters: dict[str, Any] = {"hours": parse_int(q.get("hours") or "24", "hours")}
        if q.get("family"):
            filters["family"] = q["family"].strip()
        if q.get("role"):
            filters["role"] = q["role"].strip()
        if q.get("severity"):
            filters["severity"] = parse_int(q["severity"], "severity")
        return filters

    @router.get("/alerts")
    def alerts(request: Request) -> Response:
        def work(who: Caller) -> Response:
            filters = alert_filters(request)
            body = service.audit.alerts(who, **filters).body
            return console.render(
                "alerts.html",
                session=request.state.console_session,
                body=body,
                filters=filters,
                query=request.url.query,
                roles=service.policy.staff_roles(),
                families=sorted({f for a in body["items"] for f in a["families"]}),
            )

        return page(request, work)

    @router.get("/alerts/rows")
    def alert_rows(request: Request) -> Response:
        """The alerts table's rows alone, for the page's polling script."""

        def work(who: Caller) -> Response:
            body = service.audit.alerts(who, **alert_filters(request)).body
            return console.render(
                "alert_rows.html", session=request.state.console_session, body=body
            )

        return page(request, work)

    @router.get("/incidents/{principal}")
    def incident(request: Request, principal: str) -> Response:
        """One principal's incident: the signals (its alerts of the last week), the
        containments taken, and (for the roles the policy lets investigate) one page of
        its timeline with what each entry touched: pseudonymous subject IDs and field
        categories. Its curves and the whole week's report are pages of their own, a link
        away, so this one costs two index reads whatever the principal did."""

        def work(who: Caller) -> Response:
            q = request.query_params
            before = parse_int(q["before"], "before") if q.get("before") else None
            signals = service.audit.alerts(who, hours=24 * 7, principal=principal).body
            now = service.clock.now()
            timeline = None
            if console.allowed(who.role, (ep.INVESTIGATE_PRINCIPAL,)):
                timeline = service.audit.principal_timeline(
                    who, principal, now - 7 * 86400, before, TIMELINE_PAGE
                ).body
            taken = [a for a in signals["items"] if a["containment"]]
            state = None
            if console.allowed(who.role, (ep.CONTAINMENTS,)):
                state = [
                    {**c, "active": is_active(c, now)}
                    for c in service.admin.containments(who).body["items"]
                    if c["principal"] == principal
                ]
            return console.render(
                "incident.html",
                session=request.state.console_session,
                principal=principal,
                signals=signals["items"],
                taken=taken,
                containments=state,
                timeline=timeline,
            )

        return page(request, work)

    # --- extraction curves ----------------------------------------------------------------
    @router.get("/curves")
    def curves(request: Request) -> Response:
        def work(who: Caller) -> Response:
            q = request.query_params
            principal = (q.get("principal") or "").strip() or None
            role = (q.get("role") or "").strip() or None
            bucket = q.get("bucket") or "hour"
            body = service.audit.extraction(who, principal=principal, role=role, bucket=bucket).body
            charts = curve_charts(body, bucket, compare=principal is not None or role is not None)
            return console.render(
                "curves.html",
                session=request.state.console_session,
                body=body,
                charts=charts,
                principal=principal or "",
                role=role or "",
                bucket=bucket,
                roles=service.policy.staff_roles(),
            )

        return page(request, work)

    # --- principals and sessions ----------------------------------------------------------
    @router.get("/principals")
    def principals(request: Request) -> Response:
        def work(who: Caller) -> Response:
            body = service.admin.principals(who).body
            return console.render(
                "principals.html", session=request.state.console_session, body=body
            )

        return page(request, work)

    @router.post("/principals/{principal_id}/suspend")
    async def suspend(request: Request, principal_id: str) -> Response:
        def work(who: Caller, form: dict[str, str]) -> str:
            why = form.get("why", "").strip()
            if len(why) < 5:
                raise BadRequest("suspending a principal needs a reason (5 characters or more)")
            service.admin.revoke_principal(who, principal_id, why)
            return "/principals"

        return await action(request, work)

    @router.post("/sessions/{session_id}/end")
    async def end_session(request: Request, session_id: str) -> Response:
        def work(who: Caller, form: dict[str, str]) -> str:
            service.admin.end_session(who, session_id, form.get("why", "").strip())
            return "/principals"

        return await action(request, work)

    # --- containments ---------------------------------------------------------------------
    @router.get("/containments")
    def containments(request: Request) -> Response:
        def work(who: Caller) -> Response:
            items = service.admin.containments(who).body["items"]
            now = service.clock.now()
            active = [c for c in items if is_active(c, now)]
            history = [c for c in items if not is_active(c, now)]
            history.sort(key=lambda c: c.get("lifted_at") or c["created_at"], reverse=True)
            return console.render(
                "containments.html",
                session=request.state.console_session,
                active=active,
                history=history,
            )

        return page(request, work)

    @router.post("/containments/{containment_id}/lift")
    async def lift(request: Request, containment_id: str) -> Response:
        def work(who: Caller, form: dict[str, str]) -> str:
            why = form.get("why", "").strip()
            if len(why) < 5:
                raise BadRequest("lifting a containment needs a reason (5 characters or more)")
            service.admin.lift_containment(who, containment_id, why)
            return "/containments"

        return await action(request, work)

    # --- reviews: break-glass (auditors) and exports (approvers) --------------------------
    @router.get("/reviews")
    def reviews(request: Request) -> Response:
        def work(who: Caller) -> Response:
            session = request.state.console_session
            status = request.query_params.get("status") or "pending"
            if status not in ("pending", "approved", "rejected"):
                raise BadRequest("status is pending, approved or rejected")
            glass = exports = links = None
            if console.allowed(who.role, (ep.REVIEWS,)):
                glass = service.audit.reviews(who, status).body["items"]
            if console.allowed(who.role, (ep.EXPORT_QUEUE,)):
                exports = service.exports.queue(who, status).body["items"]
            # Case links: the unit's agents decide their unit's (signed in for case
            # management); auditors and administrators watch every unit's, read only.
            deciding = console.allowed(who.role, (ep.CASE_PENDING_LINKS,), who.purpose)
            if deciding:
                links = service.cases.pending_links(who, status).body["items"]
            elif console.allowed(who.role, (ep.CASE_LINK_OVERSIGHT,)):
                links = service.cases.link_oversight(who, status).body["items"]
            return console.render(
                "reviews.html",
                session=session,
                glass=glass,
                exports=exports,
                links=links,
                deciding=deciding,
                sign_in_for_links=links is None
                and console.allowed(who.role, (ep.CASE_PENDING_LINKS,)),
                shown=status,
            )

        return page(request, work)

    @router.post("/reviews/break-glass/{review_id}")
    async def decide_review(request: Request, review_id: str) -> Response:
        def work(who: Caller, form: dict[str, str]) -> str:
            service.audit.decide_review(
                who, review_id, form.get("decision", ""), form.get("note", "").strip()
            )
            return "/reviews"

        return await action(request, work)

    @router.post("/reviews/exports/{export_id}")
    async def decide_export(request: Request, export_id: str) -> Response:
        def work(who: Caller, form: dict[str, str]) -> str:
            note = form.get("note", "").strip()
            decision = form.get("decision")
            if decision == "approve":
                service.exports.approve(who, export_id, note)
            elif decision == "reject":
                if len(note) < 5:
                    raise BadRequest("rejecting an export needs a note (5 characters or more)")
                service.exports.reject(who, export_id, note)
            else:
                raise BadRequest("decision is approve or reject")
            return "/reviews"

        return await action(request, work)

    @router.post("/reviews/case-links/{case_id}/{subject_id}")
    async def decide_case_link(request: Request, case_id: str, subject_id: str) -> Response:
        def work(who: Caller, form: dict[str, str]) -> str:
            decision = form.get("decision")
            if decision == "approve":
                service.cases.approve_link(who, case_id, subject_id)
            elif decision == "reject":
                service.cases.reject_link(who, case_id, subject_id, form.get("note", ""))
            else:
                raise BadRequest("decision is approve or reject")
            return "/reviews"

        return await action(request, work)

    # --- the journal ----------------------------------------------------------------------
    @router.get("/journal")
    def journal(request: Request) -> Response:
        def work(who: Caller) -> Response:
            head = service.audit.journal_checkpoint(who).body
            proof = None
            raw = request.query_params.get("entry")
            if raw:
                index = parse_int(raw, "entry")
                if not 0 <= index < head["size"]:
                    raise BadRequest(f"entry is between 0 and {head['size'] - 1}")
                proof = service.audit.inclusion_proof(who, index, head["size"]).body
            signers = note_signers(head["checkpoint"])
            return console.render(
                "journal.html",
                session=request.state.console_session,
                size=head["size"],
                checkpoint=head["checkpoint"],
                signer=signers[0] if signers else None,
                cosigners=signers[1:],
                proof=proof,
                verification=service.audit.verification_status(who).body,
            )

        return page(request, work)

    @router.get("/journal/verification")
    def verification(request: Request) -> Response:
        """The verification's state alone, for the page's polling script."""

        def work(who: Caller) -> Response:
            return console.render(
                "verification.html",
                session=request.state.console_session,
                verification=service.audit.verification_status(who).body,
            )

        return page(request, work)

    @router.post("/journal/verify")
    async def verify(request: Request) -> Response:
        def work(who: Caller, form: dict[str, str]) -> str:
            service.audit.start_verification(who)
            return "/journal"

        return await action(request, work)

    # --- investigations -------------------------------------------------------------------
    def principal_query(request: Request) -> tuple[str, float | None, float | None]:
        q = request.query_params
        principal = (q.get("principal") or "").strip()
        return principal, parse_time(q.get("since"), "since"), parse_time(q.get("until"), "until")

    @router.get("/investigations")
    def investigations(request: Request) -> Response:
        """A principal's investigation: the window's count of entries and one page of them,
        newest first, each with what it touched (pseudonymous subject IDs, field
        categories), from `journal_principals` and that page's entries, like the
        incident's timeline, so the page costs the same whatever the principal did. The
        full report (every subject and field; records, outcomes and distinct subjects by
        category and by hour) reads every entry of the window: it is `full=1`, and its
        download. A subject's report."""

        def work(who: Caller) -> Response:
            q = request.query_params
            timeline = principal = subject = None
            name, since, until = principal_query(request)
            if name and q.get("full"):
                principal = service.audit.investigate_principal(who, name, since, until).body
            elif name:
                before = parse_int(q["before"], "before") if q.get("before") else None
                timeline = service.audit.principal_timeline(
                    who, name, since, before, TIMELINE_PAGE, until=until
                ).body
            if q.get("subject"):
                subject = service.audit.investigate_subject(who, q["subject"].strip()).body
            window = {"principal": name, "since": q.get("since"), "until": q.get("until")}
            return console.render(
                "investigations.html",
                session=request.state.console_session,
                timeline=timeline,
                principal=principal,
                subject=subject,
                window=urlencode({k: v for k, v in window.items() if v}),
                q=q,
            )

        return page(request, work)

    @router.get("/investigations/principal.json")
    def principal_download(request: Request) -> Response:
        """The full report of a principal's investigation, as the API answers it."""

        def work(who: Caller) -> Response:
            name, since, until = principal_query(request)
            if not name:
                raise BadRequest("name a principal")
            report = service.audit.investigate_principal(who, name, since, until).body
            return download(
                json.dumps(report, indent=2), "application/json", "principal-report.json"
            )

        return page(request, work)

    def breach_of(who: Caller, request: Request) -> tuple[dict[str, Any], str]:
        q = request.query_params
        names = [p.strip() for p in q.get("principals", "").replace(",", " ").split() if p]
        if not names:
            raise BadRequest("name at least one principal")
        since, until = parse_time(q.get("since"), "since"), parse_time(q.get("until"), "until")
        report = service.audit.breach_report(who, names, since, until).body
        return report, " ".join(names)

    @router.get("/investigations/breach")
    def breach(request: Request) -> Response:
        def work(who: Caller) -> Response:
            report, names = breach_of(who, request)
            return console.render(
                "breach.html",
                session=request.state.console_session,
                report=report,
                markdown=breach_markdown(report),
                download=request.url.query,
                names=names,
            )

        return page(request, work)

    @router.get("/investigations/breach.md")
    def breach_download(request: Request) -> Response:
        def work(who: Caller) -> Response:
            report, _ = breach_of(who, request)
            return download(
                breach_markdown(report), "text/markdown; charset=utf-8", "breach-report.md"
            )

        return page(request, work)

    @router.get("/investigations/breach.pdf")
    def breach_pdf(request: Request) -> Response:
        def work(who: Caller) -> Response:
            report, _ = breach_of(who, request)
            body = text_pdf(breach_markdown(report), title="Personal data breach (Art. 33)")
            return download(body, "application/pdf", "breach-report.pdf")

        return page(request, work)

    return router


def curve_charts(body: dict[str, Any], bucket: str, *, compare: bool) -> list[tuple[str, str]]:
    """The records and distinct-subjects charts of an extraction curve (`GET
    /v1/activity`), each against the peers' mean (`compare`) and the budgets."""
    series = body["series"]
    starts = [p["start"] for p in series]
    charts = []
    for unit, label in (("records", "Records"), ("subjects", "Distinct subjects")):
        budgets = [(b["name"], b["limit"]) for b in body["budgets"] if b["unit"] == unit]
        charts.append(
            (
                f"{label} per {bucket}",
                bar_chart(
                    f"{label} per {bucket}",
                    starts,
                    [p[unit] for p in series],
                    peers=[p[f"peer_{unit}"] for p in series] if compare else None,
                    budgets=budgets,
                    bucket_seconds=body["bucket_seconds"],
                ),
            )
        )
    return charts


def download(body: str | bytes, media_type: str, filename: str) -> Response:
    """A file the browser saves (a report), with the console's security headers."""
    return Response(
        body,
        media_type=media_type,
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


def see_other(path: str) -> Response:
    return Response(status_code=303, headers={**SECURITY_HEADERS, "Location": PREFIX + path})


def is_active(c: dict[str, Any], now: float) -> bool:
    return c.get("lifted_at") is None and (c.get("expires_at") is None or now < c["expires_at"])


def note_signers(note: str) -> list[str]:
    """The key names that signed a C2SP signed note ("— name signature" lines), in order:
    this server's first, then any witness's cosignature."""
    return [line.split(" ")[1] for line in note.splitlines() if line.startswith("\u2014 ")]


def parse_int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} is a number") from None


def parse_time(raw: str | None, name: str) -> float | None:
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} is an ISO 8601 date and time") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
