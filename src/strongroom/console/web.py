"""The console's HTTP side: sign-in as an OAuth client, the session cookie, CSRF, the
security headers, and rendering. The pages themselves are in `console/pages.py`.

Each page authenticates its session's access token through the service's own resource
server (DPoP proof signed with the session's key, revocation, idle session) and binds the
principal through the pipeline, exactly as `api/deps.caller` does for an API request; the
page then calls one gate use case, which the policy decides and the journal records.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from strongroom import endpoints as ep
from strongroom.auth.rfc7009_revocation import revoke
from strongroom.auth.rfc9068 import PURPOSE_DETAIL_TYPE
from strongroom.auth.token_endpoint import token_request
from strongroom.budgets import client_ip
from strongroom.compose import Service
from strongroom.console.sessions import Session, SessionStore
from strongroom.context import Caller
from strongroom.endpoints import Endpoint
from strongroom.errors import StrongroomError, Unauthorized

log = logging.getLogger("strongroom.console")

CLIENT_ID = "console"
PREFIX = "/console"
SESSION_COOKIE = "strongroom_console"
LOGIN_COOKIE = "strongroom_console_login"
CALLBACK = PREFIX + "/callback"
# Refresh a little before the access token expires, so a page never races its expiry.
REFRESH_MARGIN = 20
# A request that finds another worker refreshing its session polls for the new tokens.
REFRESH_POLL = 0.05
REFRESH_WAIT = 15.0

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# The purposes a console sign-in may ask for besides the role's default: a unit's agents
# decide their unit's case links under case management (RFC 9396 authorization details).
SIGN_IN_PURPOSES = ("case_management",)


@dataclass(frozen=True)
class Page:
    """A page in the navigation, shown to the roles the policy lets call any of `needs`."""

    path: str
    title: str
    needs: tuple[Endpoint, ...]


PAGES = (
    Page("/alerts", "Alerts", (ep.ALERTS,)),
    Page("/curves", "Extraction curves", (ep.ACTIVITY,)),
    Page("/containments", "Containments", (ep.CONTAINMENTS,)),
    Page(
        "/reviews",
        "Reviews",
        (ep.REVIEWS, ep.EXPORT_QUEUE, ep.CASE_PENDING_LINKS, ep.CASE_LINK_OVERSIGHT),
    ),
    Page("/journal", "Journal", (ep.CHECKPOINT,)),
    Page("/investigations", "Investigations", (ep.INVESTIGATE_PRINCIPAL,)),
    Page("/principals", "Principals and sessions", (ep.PRINCIPALS,)),
)


class SignInRequired(Exception):
    """No usable session: the browser goes to the sign-in page."""


class CsrfRefused(Exception):
    """A form without this session's CSRF token."""


class Console:
    def __init__(self, service: Service) -> None:
        self.svc = service
        self.auth = service.authorization_server
        self.store = SessionStore(service.engine, service.vault, service.clock)
        self.env = Environment(
            loader=PackageLoader("strongroom.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _when
        public = urlsplit(self.auth.public_url)
        # Secure cookies everywhere but on a loopback address served over plain HTTP (a
        # browser would not send a Secure cookie back to http://127.0.0.1).
        self.secure = public.scheme == "https" or (public.hostname or "") not in LOOPBACK
        self.redirect_uri = self.auth.public_url + CALLBACK

    # --- rendering ----------------------------------------------------------------------
    def render(
        self,
        template: str,
        *,
        session: Session | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        nav = [p for p in PAGES if session is not None and self.allowed(session.role, p.needs)]
        html = self.env.get_template(template).render(
            session=session,
            nav=nav,
            prefix=PREFIX,
            csrf=session.csrf if session else "",
            **context,
        )
        return HTMLResponse(
            html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
        )

    def allowed(self, role: str, needs: tuple[Endpoint, ...], purpose: str | None = None) -> bool:
        """Whether the policy lets `role` (for `purpose`, when given) call any of `needs`
        (to show a link or a section; the call itself is decided again by the pipeline)."""
        known = self.svc.policy.policy.endpoints
        return any(
            e.id in known
            and role in known[e.id].roles
            and (purpose is None or purpose in (known[e.id].purposes or [purpose]))
            for e in needs
        )

    def failure(self, session: Session | None, exc: StrongroomError) -> HTMLResponse:
        return self.render(
            "error.html",
            session=session,
            status=exc.status,
            title=exc.title,
            detail=exc.detail,
            reason=exc.reason,
        )

    # --- sign-in --------------------------------------------------------------------------
    def start_sign_in(self, purpose: str | None = None) -> Response:
        """Push an authorization request (PAR, PKCE S256, the code bound to this sign-in's
        DPoP key; `purpose`, one of SIGN_IN_PURPOSES, as its authorization details, else
        the role's default) and send the browser to the authorization server's form."""
        if purpose is not None and purpose not in SIGN_IN_PURPOSES:
            return self.render(
                "sign_in.html",
                status=400,
                error=f"A console sign-in is for the role's own task or for: "
                f"{', '.join(SIGN_IN_PURPOSES)}.",
            )
        pid, pending = self.store.begin(self.redirect_uri)
        request = {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "redirect_uri": pending.redirect_uri,
            "code_challenge": create_s256_code_challenge(pending.verifier),
            "code_challenge_method": "S256",
            "state": pending.state,
            "dpop_jkt": pending.key.jkt,
        }
        if purpose is not None:
            request["authorization_details"] = json.dumps(
                [{"type": PURPOSE_DETAIL_TYPE, "purpose": purpose}]
            )
        try:
            pushed = self.auth.push_authorization_request(request)
        except OAuth2Error as exc:
            log.error("the console could not push its sign-in request: %s", exc.error)
            return self.render(
                "sign_in.html",
                status=503,
                error="The console is not registered as an OAuth client of this server "
                "(see docs/console.md).",
            )
        target = (
            f"/oauth/authorize?client_id={quote(CLIENT_ID)}"
            f"&request_uri={quote(str(pushed['request_uri']), safe='')}"
        )
        response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
        self.set_cookie(response, LOGIN_COOKIE, pid)
        return response

    def finish_sign_in(self, request: Request) -> Response:
        q = request.query_params
        pending = self.store.take_pending(request.cookies.get(LOGIN_COOKIE))
        refused = None
        if pending is None or not q.get("state") or q.get("state") != pending.state:
            refused = "This sign-in is unknown or expired; start again."
        elif q.get("iss") != self.auth.issuer:  # RFC 9207: the answer is from our server
            refused = "The answer did not come from this server's authorization server."
        elif q.get("error") or not q.get("code"):
            refused = "Sign-in was cancelled or refused."
        if refused is not None or pending is None:
            response = self.render("sign_in.html", status=400, error=refused)
            response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
            return response
        try:
            tokens = token_request(
                self.auth,
                {
                    "client_id": CLIENT_ID,
                    "grant_type": "authorization_code",
                    "code": str(q.get("code")),
                    "redirect_uri": pending.redirect_uri,
                    "code_verifier": pending.verifier,
                },
                dpop=pending.key.proof("POST", self.auth.token_endpoint),
                method="POST",
                url=self.auth.token_endpoint,
            )
        except OAuth2Error as exc:
            log.warning("the console's code exchange was refused: %s", exc.error)
            return self.render("sign_in.html", status=400, error="Sign-in was refused.")
        session = self.store.open(pending.key, tokens)
        try:
            who = self.caller(request, session)
        except (SignInRequired, StrongroomError):
            self.store.close(session.id)
            return self.render("sign_in.html", status=403, error="This account may not sign in.")
        self.store.identify(session, who.principal_id, who.role)
        response = RedirectResponse(PREFIX + "/", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        self.set_cookie(response, SESSION_COOKIE, session.id)
        return response

    def sign_out(self, session: Session) -> Response:
        self.store.close(session.id)
        for token in (session.refresh_token, session.access_token):
            if token:
                try:
                    revoke(self.auth, {"client_id": CLIENT_ID, "token": token})
                except OAuth2Error as exc:
                    log.warning("revoking a console token failed: %s", exc.error)
        response = RedirectResponse(PREFIX + "/sign-in", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    def set_cookie(self, response: Response, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            path=PREFIX,
            httponly=True,
            secure=self.secure,
            samesite="strict",
        )

    # --- each page ------------------------------------------------------------------------
    def session(self, request: Request) -> Session:
        session = self.store.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise SignInRequired
        return session

    def check_csrf(self, session: Session, form: Mapping[str, Any]) -> None:
        if not session.csrf_ok(form.get("csrf")):
            raise CsrfRefused

    def caller(self, request: Request, session: Session) -> Caller:
        """The session's caller, authenticated by the resource server as any API request
        (its DPoP proof signed with the session's key for this page's method and URL) and
        bound to its principal by the pipeline. Refreshes the access token when it is
        about to expire; a refused refresh ends the session."""
        token = self.fresh_token(session)
        ip = self.ip(request)
        url = str(request.url)
        try:
            who = self.svc.resource_server.authenticate(
                authorization=f"DPoP {token}",
                dpop=session.key.proof(request.method, url, access_token=token),
                method=request.method,
                url=url,
                ip=ip,
                user_agent=request.headers.get("user-agent"),
            )
        except Unauthorized as exc:
            self.svc.pipeline.record_security(
                None, f"{request.method} {PREFIX}", reason=exc.reason or "unauthorized", ip=ip
            )
            self.store.close(session.id)
            raise SignInRequired from exc
        return self.svc.pipeline.bind_principal(who)

    def fresh_token(self, session: Session) -> str:
        """The session's access token, refreshed first when it is about to expire. Of the
        workers (or threads) that find it expiring at once, one claims the refresh and
        redeems the refresh token; the others wait for the version it stores and use its
        tokens: a refresh token redeemed twice would revoke the whole family."""
        waited = 0.0
        while self.svc.clock.now() > session.expires_at - REFRESH_MARGIN:
            if self.store.claim_refresh(session):
                self.refresh(session)
                break
            if not self.store.reload(session):  # the refresh was refused: session ended
                raise SignInRequired
            if self.svc.clock.now() > session.expires_at - REFRESH_MARGIN:
                if waited > REFRESH_WAIT:
                    raise SignInRequired
                time.sleep(REFRESH_POLL)
                waited += REFRESH_POLL
        return session.access_token

    def refresh(self, session: Session) -> None:
        if not session.refresh_token:
            self.store.close(session.id)
            raise SignInRequired
        try:
            tokens = token_request(
                self.auth,
                {
                    "client_id": CLIENT_ID,
                    "grant_type": "refresh_token",
                    "refresh_token": session.refresh_token,
                },
                dpop=session.key.proof("POST", self.auth.token_endpoint),
                method="POST",
                url=self.auth.token_endpoint,
            )
        except OAuth2Error as exc:
            self.store.close(session.id)
            raise SignInRequired from exc
        if not self.store.refreshed(session, tokens):
            raise SignInRequired  # signed out while the refresh was under way

    def ip(self, request: Request) -> str:
        peer = request.client.host if request.client else "0.0.0.0"  # noqa: S104
        return client_ip(
            peer, request.headers.get("x-forwarded-for"), self.svc.settings.trusted_proxies
        )


def static_asset(name: str) -> tuple[bytes, str] | None:
    """One of the console's own assets (no CDN, nothing fetched elsewhere)."""
    types = {".js": "text/javascript", ".css": "text/css"}
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in types or "/" in name or name.startswith("."):
        return None
    file = resources.files("strongroom.console").joinpath("static", name)
    if not file.is_file():
        return None
    return file.read_bytes(), types[suffix]


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
