"""HTTP adapter for the embedded authorization server (`auth/server.py`): form in, RFC 6749
§5.2 JSON errors out. No protocol logic lives here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from strongroom.api.deps import caller, peer_ip
from strongroom.api.problems import problem_response
from strongroom.auth.login_page import PAGE_HEADERS, passkey_script, render_login
from strongroom.auth.rfc7009_revocation import revoke
from strongroom.auth.rfc7662_introspection import introspect
from strongroom.auth.server import AuthorizationServer
from strongroom.auth.token_endpoint import token_request
from strongroom.context import Caller
from strongroom.errors import BadRequest, StrongroomError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(exc: OAuth2Error) -> JSONResponse:
    status = 401 if exc.error == "invalid_client" else (exc.status_code or 400)
    body: dict[str, Any] = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    return JSONResponse(body, status_code=status, headers=NO_STORE)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadRequest("a JSON object is expected", reason="invalid_json")
    return body


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def make_oauth_router(
    auth_server: AuthorizationServer, *, trusted_proxies: Sequence[str] = ()
) -> APIRouter:
    router = APIRouter(tags=["oauth"])
    srv = auth_server

    @router.post("/oauth/par", status_code=201)
    async def par(request: Request) -> Response:
        try:
            body = srv.push_authorization_request(await _form(request))
        except OAuth2Error as exc:
            return _oauth_error(exc)
        return JSONResponse(body, status_code=201, headers=NO_STORE)

    @router.get("/oauth/authorize", response_class=HTMLResponse)
    async def authorize_form(request: Request) -> Response:
        q = request.query_params
        try:
            srv.load_par(q.get("client_id"), q.get("request_uri"))
        except OAuth2Error as exc:
            return _oauth_error(exc)
        page = render_login(
            action=str(request.url_for("authorize_login")),
            context={"client_id": q.get("client_id"), "request_uri": q.get("request_uri")},
        )
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @router.post("/oauth/authorize", name="authorize_login")
    async def authorize_login(request: Request) -> Response:
        form = await _form(request)
        try:
            if form.get("action") == "cancel":
                return RedirectResponse(srv.deny(form), status_code=303, headers=NO_STORE)
            outcome = srv.login(
                form,
                ip=peer_ip(request.scope, trusted_proxies),
                user_agent=request.headers.get("user-agent"),
            )
        except OAuth2Error as exc:
            return _oauth_error(exc)
        except StrongroomError as exc:  # the network's failure budget is spent
            return problem_response(exc, instance=request.url.path, headers=NO_STORE)
        if outcome.redirect_to:
            return RedirectResponse(outcome.redirect_to, status_code=303, headers=NO_STORE)
        page = render_login(
            action=str(request.url_for("authorize_login")),
            context=outcome.context,
            error=outcome.error,
        )
        return HTMLResponse(page, status_code=401, headers=PAGE_HEADERS)

    @router.post("/oauth/token")
    async def token(request: Request) -> Response:
        try:
            # htu is the token endpoint as published in our metadata (RFC 9449 §4.3),
            # not whatever Host header reached this worker.
            body = token_request(
                srv,
                await _form(request),
                dpop=request.headers.get("dpop"),
                method=request.method,
                url=srv.token_endpoint,
            )
        except OAuth2Error as exc:
            return _oauth_error(exc)
        return JSONResponse(body, headers=NO_STORE)

    @router.post("/oauth/revoke")
    async def revoke_endpoint(request: Request) -> Response:
        try:
            revoke(srv, await _form(request))
        except OAuth2Error as exc:
            return _oauth_error(exc)
        return Response(status_code=200, headers=NO_STORE)

    @router.post("/oauth/logout")
    async def logout(request: Request, who: Caller = Depends(caller)) -> Response:
        """RP-initiated logout with the session's own (DPoP-bound) access token: the
        session and its tokens end. `post_logout_redirect_uri` (registered for the client)
        and `state` as in OpenID Connect RP-Initiated Logout 1.0; without one, 204."""
        form = await _form(request)
        try:
            target = srv.sign_out(
                who,
                post_logout_redirect_uri=form.get("post_logout_redirect_uri"),
                state=form.get("state"),
            )
        except OAuth2Error as exc:
            return _oauth_error(exc)
        if target:
            return RedirectResponse(target, status_code=303, headers=NO_STORE)
        return Response(status_code=204, headers=NO_STORE)

    @router.get("/oauth/sessions")
    async def my_sessions(who: Caller = Depends(caller)) -> Response:
        """The caller's own live sessions: where each signed in from, when, at which
        level; the one this token belongs to is marked `current`."""
        rows = srv.sessions.of_principal(who.principal_id)
        items = [{**r, "current": r["session"] == who.session_id} for r in rows]
        return JSONResponse({"items": items}, headers=NO_STORE)

    @router.post("/oauth/sessions/{session_id}/end")
    async def end_my_session(
        request: Request, session_id: str, who: Caller = Depends(caller)
    ) -> Response:
        """End one of the caller's own sessions (a forgotten browser, a lost laptop)."""
        try:
            srv.end_session(who.principal_id, session_id, "ended_by_owner")
        except StrongroomError as exc:
            return problem_response(exc, instance=request.url.path, headers=NO_STORE)
        srv.security_event(
            "session_ended_by_owner",
            endpoint="POST /oauth/sessions/{id}/end",
            ip=who.ip,
            principal_id=who.principal_id,
            role=who.role,
        )
        return Response(status_code=204, headers=NO_STORE)

    @router.post("/oauth/introspect")
    async def introspect_endpoint(request: Request) -> Response:
        try:
            body = introspect(srv, await _form(request))
        except OAuth2Error as exc:
            return _oauth_error(exc)
        return JSONResponse(body, headers=NO_STORE)

    # -- passkeys (WebAuthn): JSON for the sign-in page's script ---------------------------
    @router.get("/oauth/webauthn/passkey.js")
    async def passkey_js() -> Response:
        return Response(
            passkey_script(),
            media_type="text/javascript",
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    @router.post("/oauth/webauthn/authenticate/options")
    async def passkey_sign_in_options(request: Request) -> Response:
        try:
            body = srv.passkey_sign_in_options(await _json_body(request))
        except OAuth2Error as exc:
            return _oauth_error(exc)
        return JSONResponse(body, headers=NO_STORE)

    @router.post("/oauth/webauthn/authenticate/verify")
    async def passkey_sign_in(request: Request) -> Response:
        body = await _json_body(request)
        try:
            outcome = srv.passkey_sign_in(
                body,
                ip=peer_ip(request.scope, trusted_proxies),
                user_agent=request.headers.get("user-agent"),
            )
        except OAuth2Error as exc:
            return _oauth_error(exc)
        except StrongroomError as exc:  # the network's failure budget is spent
            return problem_response(exc, instance=request.url.path, headers=NO_STORE)
        if outcome.redirect_to:
            return JSONResponse({"redirect_to": outcome.redirect_to}, headers=NO_STORE)
        return JSONResponse(
            {"error": "access_denied", "error_description": outcome.error},
            status_code=401,
            headers=NO_STORE,
        )

    @router.post("/oauth/webauthn/register/options")
    async def passkey_registration_options(
        request: Request, who: Caller = Depends(caller)
    ) -> Response:
        try:
            body = srv.passkey_registration_options(who)
        except StrongroomError as exc:
            return problem_response(exc, instance=request.url.path, headers=NO_STORE)
        return JSONResponse(body, headers=NO_STORE)

    @router.post("/oauth/webauthn/register/verify", status_code=201)
    async def passkey_register(request: Request, who: Caller = Depends(caller)) -> Response:
        try:
            info = srv.passkey_register(who, await _json_body(request))
        except StrongroomError as exc:
            return problem_response(exc, instance=request.url.path, headers=NO_STORE)
        return JSONResponse(info.as_json(), status_code=201, headers=NO_STORE)

    @router.get("/oauth/webauthn/credentials")
    async def passkey_list(who: Caller = Depends(caller)) -> Response:
        items = [p.as_json() for p in srv.passkey_list(who)]
        return JSONResponse({"items": items}, headers=NO_STORE)

    @router.delete("/oauth/webauthn/credentials/{credential_id}", status_code=204)
    async def passkey_remove(
        request: Request, credential_id: str, who: Caller = Depends(caller)
    ) -> Response:
        try:
            srv.passkey_remove(who, credential_id)
        except StrongroomError as exc:
            return problem_response(exc, instance=request.url.path, headers=NO_STORE)
        return Response(status_code=204, headers=NO_STORE)

    @router.get("/.well-known/oauth-authorization-server")
    async def metadata() -> Response:
        return JSONResponse(srv.metadata())

    @router.get("/oauth/jwks")
    async def jwks() -> Response:
        return JSONResponse(srv.jwks(), headers={"Cache-Control": "max-age=300"})

    return router
