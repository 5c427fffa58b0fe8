"""The embedded authorization server: PAR → login → code → token, FAPI 2.0 baseline.

    RFC 9126  PAR is required: /oauth/authorize only accepts a `request_uri` (60 s, one use)
    RFC 7636  PKCE S256 only
    RFC 9207  `iss` in every authorization response
    RFC 9449  DPoP-bound access and refresh tokens, for every client
    RFC 9396  the task as `authorization_details` (type strongroom_purpose)
    RFC 7523  private_key_jwt for confidential clients
    RFC 7009 / RFC 7662 / RFC 8414  revocation, introspection, metadata

Grant handling lives in `token_endpoint.py`; this module holds what the endpoints share and
is free of any web framework. Errors are Authlib `OAuth2Error`s (RFC 6749 §5.2 codes).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidClientError,
    InvalidRequestError,
    UnsupportedResponseTypeError,
)

from strongroom.auth import rfc7636_pkce, rfc9396_rar
from strongroom.auth.acr import ACR_MFA, ACR_PHR, AMR_PASSKEY, satisfies
from strongroom.auth.attempts import PrefixFailures
from strongroom.auth.clients import Client, ClientRegistry, PrincipalInfo, PrincipalLookup
from strongroom.auth.login import Credentials, LoginFailed, LoginResult
from strongroom.auth.rfc7523_client_auth import ASSERTION_TYPE, verify_client_assertion
from strongroom.auth.rfc9068 import TokenService
from strongroom.auth.rfc9449_dpop import DPoPVerifier, InMemoryReplayCache, ReplayCache
from strongroom.auth.rfc9470_step_up import require_step_up
from strongroom.auth.role_grants import RoleGrant, default_role_names, load_role_grant
from strongroom.auth.sessions import USER_AGENT_CHARS, SqlSessions
from strongroom.auth.store import codes, digest, par_requests
from strongroom.auth.webauthn_passkeys import PasskeyInfo, PasskeyRefused, Passkeys, relying_party
from strongroom.clock import SYSTEM_CLOCK, Clock
from strongroom.context import Caller
from strongroom.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests
from strongroom.netaddr import ip_prefix

PAR_LIFETIME = 60
CODE_LIFETIME = 60
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
SIGN_IN_ENDPOINT = "POST /oauth/authorize"
# One message for every refusal of the form: which one it was is the journal's to know.
SIGN_IN_FAILED = (
    "Sign-in failed: wrong username, password or code, or too many failed attempts. "
    "Wait a few minutes and try again, or ask an administrator."
)
SecurityHook = Callable[[dict[str, Any]], None]
PASSKEY_SIGN_IN_ENDPOINT = "POST /oauth/webauthn/authenticate/verify"
LOGOUT_ENDPOINT = "POST /oauth/logout"
# A sign-in from a device and network pair none of the account's sessions used in this
# many days is an alert.
KNOWN_ORIGIN_DAYS = 90
SIGNED_IN_ELSEWHERE = (
    "This account is signed in from another network. Sign out there first, or ask an "
    "administrator to end that session."
)


SIGNED_IN_ELSEWHERE_PASSKEY = (
    "This account is signed in from another network. Sign in with your passkey, or sign "
    "out there first."
)


@dataclass(frozen=True)
class Origin:
    """Where a sign-in comes from."""

    ip: str | None
    user_agent: str | None
    endpoint: str


def _agent(user_agent: str | None) -> str | None:
    return user_agent[:USER_AGENT_CHARS] if user_agent else None


PASSKEY_REGISTER_ENDPOINT = "POST /oauth/webauthn/register/verify"
PASSKEY_REMOVE_ENDPOINT = "DELETE /oauth/webauthn/credentials/{id}"
# How recent the sign-in that adds or removes a passkey must be.
PASSKEY_MANAGEMENT_MAX_AGE = 600


@dataclass
class LoginOutcome:
    """What the login POST leads to: a redirect, or the form again with a message."""

    redirect_to: str | None = None
    error: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


class AuthorizationServer:
    def __init__(
        self,
        *,
        engine: sa.Engine,
        tokens: TokenService,
        principals: PrincipalLookup,
        clock: Clock = SYSTEM_CLOCK,
        replay_cache: ReplayCache | None = None,
        credentials: Credentials,
        prefix_failures: PrefixFailures | None = None,
        role_grants: Callable[[str], RoleGrant] = load_role_grant,
        role_names: tuple[str, ...] | None = None,
        on_security_event: SecurityHook | None = None,
        on_alert: SecurityHook | None = None,
        idle_timeout: int | None = None,
        absolute_lifetime: int | None = None,
        refresh_lifetime: int = 8 * 3600,
        public_url: str | None = None,
        other_network_sessions: str = "refuse",
    ) -> None:
        self.engine = engine
        self.other_network_sessions = other_network_sessions
        self.tokens = tokens
        self.issuer = tokens.issuer
        # Where the endpoints are reached: the address `strongroom serve` was started on, or
        # the issuer's. DPoP proofs name the URL the client called (RFC 9449 §4.3), and a
        # server started on another port must accept them; tokens keep the issuer as `iss`.
        self.public_url = (public_url or self.issuer).rstrip("/")
        self.principals = principals
        self.role_names = role_names if role_names is not None else default_role_names()
        self.clock = clock
        self.replay_cache = replay_cache or InMemoryReplayCache(clock)
        self.credentials = credentials
        self.prefix_failures = prefix_failures or PrefixFailures.in_memory(credentials.rules, clock)
        self.clients = ClientRegistry(engine, clock=clock)
        kw = {
            k: v
            for k, v in (("idle_timeout", idle_timeout), ("absolute_lifetime", absolute_lifetime))
            if v is not None
        }
        self.sessions = SqlSessions(engine, clock=clock, **kw)
        self.role_grants = role_grants
        self.on_security_event = on_security_event or (lambda event: None)
        self.on_alert = on_alert or (lambda event: None)
        self.refresh_lifetime = refresh_lifetime
        self.dpop = DPoPVerifier(self.replay_cache, clock=clock)
        rp_id, origin = relying_party(self.public_url)
        self.passkeys = Passkeys(engine, rp_id=rp_id, origin=origin, clock=clock)

    # -- endpoints' URLs (RFC 8414) --------------------------------------------------------
    def url(self, path: str) -> str:
        return self.public_url + path

    @property
    def token_endpoint(self) -> str:
        return self.url("/oauth/token")

    def role_grant(self, principal: PrincipalInfo) -> RoleGrant:
        return self.role_grants(principal.role)

    def mfa_required(self, principal: PrincipalInfo) -> bool:
        # Every professional (staff) role uses a second factor by default.
        grant = self.role_grant(principal)
        return grant.staff or grant.mfa_required

    def security_event(self, kind: str, **details: Any) -> None:
        self.on_security_event({"type": kind, "at": self.clock.now(), **details})

    def alert(self, kind: str, **details: Any) -> None:
        """A security event someone must look at now (an account locked, a network
        spraying passwords): it leaves through the alert sinks."""
        self.on_alert({"type": kind, "at": self.clock.now(), **details})

    # -- client authentication -------------------------------------------------------------
    def authenticate_client(
        self, form: Mapping[str, str], *, require_confidential: bool = False
    ) -> Client:
        client = self.clients.get(form.get("client_id") or _assertion_subject(form))
        if client.public:
            if require_confidential:
                raise InvalidClientError(description="this endpoint needs client authentication")
            if form.get("client_assertion"):
                raise InvalidClientError(description="public clients do not authenticate")
            return client
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise InvalidClientError(description="private_key_jwt client authentication required")
        verify_client_assertion(
            form["client_assertion"],
            client_id=client.client_id,
            jwks=client.jwks or {},
            audiences=[
                self.issuer,
                self.token_endpoint,
                self.url("/oauth/par"),
                self.url("/oauth/introspect"),
                self.url("/oauth/revoke"),
            ],
            clock=self.clock,
            replay_cache=self.replay_cache,
        )
        return client

    # -- RFC 9126 pushed authorization requests -----------------------------------------------
    def push_authorization_request(self, form: Mapping[str, str]) -> dict[str, Any]:
        client = self.authenticate_client(form)
        if "request_uri" in form:
            raise InvalidRequestError("request_uri is not allowed at the PAR endpoint")
        if form.get("response_type") != "code":
            raise UnsupportedResponseTypeError("response_type must be code")
        if "authorization_code" not in client.grant_types:
            raise InvalidRequestError("client may not use the authorization code grant")
        redirect_uri = form.get("redirect_uri")
        if not redirect_uri or redirect_uri not in client.redirect_uris:
            raise InvalidRequestError("redirect_uri is not registered for this client")
        challenge = rfc7636_pkce.check_challenge(
            form.get("code_challenge"), form.get("code_challenge_method")
        )
        detail = rfc9396_rar.parse(form.get("authorization_details"))
        scope = form.get("scope") or ""
        params = {
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "scope": scope,
            "state": form.get("state"),
            "authorization_details": detail,
            "dpop_jkt": form.get("dpop_jkt"),
            "max_age": form.get("max_age"),
        }
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                par_requests.insert().values(
                    uri_hash=digest(request_uri),
                    client_id=client.client_id,
                    params=params,
                    expires_at=self.clock.now() + PAR_LIFETIME,
                )
            )
        return {"request_uri": request_uri, "expires_in": PAR_LIFETIME}

    def load_par(self, client_id: str | None, request_uri: str | None) -> dict[str, Any]:
        if not request_uri or not request_uri.startswith(REQUEST_URI_PREFIX):
            raise InvalidRequestError("a pushed request_uri is required (RFC 9126)")
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(par_requests).where(par_requests.c.uri_hash == digest(request_uri))
                )
                .mappings()
                .first()
            )
        if (
            row is None
            or row["used"]
            or row["client_id"] != client_id
            or row["expires_at"] < self.clock.now()
        ):
            raise InvalidRequestError("request_uri unknown, used or expired")
        return dict(row["params"])

    # -- the login form's POST ---------------------------------------------------------------
    def login(
        self, form: Mapping[str, str], *, ip: str | None = None, user_agent: str | None = None
    ) -> LoginOutcome:
        """Check the form's username, password and code. A network out of failures is
        refused before anything is read (`TooManyRequests`); every other refusal is the
        same form with the same message, and goes to the journal with its reason."""
        client_id, request_uri = form.get("client_id"), form.get("request_uri")
        params = self.load_par(client_id, request_uri)
        username = form.get("username", "")
        ctx = {"client_id": client_id, "request_uri": request_uri, "username": username}
        try:
            reservation = self.prefix_failures.reserve(ip)
        except TooManyRequests:
            self._prefix_limited(ip)
            raise
        failed = True
        try:
            result = self.credentials.authenticate(
                username,
                form.get("password", ""),
                form.get("otp") or None,
                mfa_required=self._mfa_required_of,
            )
            principal = self.principals(result.principal_id)
            if principal is None or not principal.active:
                raise LoginFailed("principal_inactive", result.principal_id)
            if self.role_grant(principal).passkey_required:
                # Counted as a failure: the form is no oracle for a right password here.
                raise LoginFailed("passkey_required", result.principal_id)
            failed = False
        except LoginFailed as exc:
            self._sign_in_failed(exc, ip)
            return LoginOutcome(error=SIGN_IN_FAILED, context=ctx)
        finally:
            self.prefix_failures.settle(reservation, failed=failed)
        origin = Origin(ip, user_agent, SIGN_IN_ENDPOINT)
        refused = self._check_origin(principal, origin, result.acr)
        if refused is not None:
            return LoginOutcome(error=refused, context=ctx)
        redirect = self._finish_sign_in(
            params, str(client_id), str(request_uri), principal, result, origin
        )
        return LoginOutcome(redirect_to=redirect)

    def _finish_sign_in(
        self,
        params: Mapping[str, Any],
        client_id: str,
        request_uri: str,
        principal: PrincipalInfo,
        result: LoginResult,
        origin: Origin,
    ) -> str:
        """Spend the pushed request, open the session and issue the code: where the
        browser goes next."""
        with self.engine.begin() as conn:
            used = conn.execute(
                par_requests.update()
                .where(
                    par_requests.c.uri_hash == digest(request_uri),
                    par_requests.c.used == sa.false(),
                )
                .values(used=True)
            )
        if used.rowcount != 1:
            raise InvalidRequestError("request_uri already used")
        sid = self.sessions.create(
            principal_id=principal.principal_id,
            client_id=client_id,
            acr=result.acr,
            auth_time=result.auth_time,
            ip_prefix=ip_prefix(origin.ip),
            user_agent=origin.user_agent,
        )
        code = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                codes.insert().values(
                    code_hash=digest(code),
                    client_id=client_id,
                    principal_id=principal.principal_id,
                    session_id=sid,
                    params={
                        **params,
                        "acr": result.acr,
                        "amr": list(result.amr),
                        "auth_time": result.auth_time,
                    },
                    expires_at=self.clock.now() + CODE_LIFETIME,
                )
            )
        return self._redirect(params, code=code)

    # -- passkeys (WebAuthn) -------------------------------------------------------------------
    def passkey_sign_in_options(self, body: Mapping[str, Any]) -> dict[str, Any]:
        request_uri = _text(body, "request_uri")
        self.load_par(_text(body, "client_id"), request_uri)
        return self.passkeys.authentication_options(digest(request_uri))

    def passkey_sign_in(
        self, body: Mapping[str, Any], *, ip: str | None = None, user_agent: str | None = None
    ) -> LoginOutcome:
        """The sign-in form's passkey answer: a redirect with a code whose tokens carry
        `acr` phr, or the same refusal as a wrong password, journaled with its reason and
        charged to the network's failure budget."""
        client_id, request_uri = _text(body, "client_id"), _text(body, "request_uri")
        params = self.load_par(client_id, request_uri)
        credential = body.get("credential")
        try:
            reservation = self.prefix_failures.reserve(ip)
        except TooManyRequests:
            self._prefix_limited(ip, PASSKEY_SIGN_IN_ENDPOINT)
            raise
        failed = True
        try:
            if not isinstance(credential, Mapping):
                raise PasskeyRefused("invalid_passkey_response")
            done = self.passkeys.verify_authentication(digest(request_uri), credential)
            principal = self.principals(done.principal_id)
            if principal is None or not principal.active:
                raise PasskeyRefused("principal_inactive", done.principal_id)
            if self.credentials.is_locked(done.principal_id):
                raise PasskeyRefused("locked", done.principal_id)
            failed = False
        except PasskeyRefused as exc:
            self._sign_in_failed(
                LoginFailed(exc.reason, exc.principal_id), ip, PASSKEY_SIGN_IN_ENDPOINT
            )
            if exc.reason == "sign_count_regressed":
                self.alert(
                    "passkey_cloned",
                    endpoint=PASSKEY_SIGN_IN_ENDPOINT,
                    ip=ip,
                    principal_id=exc.principal_id,
                    reason="a passkey's sign count went backwards: two copies of its key",
                )
            return LoginOutcome(error=SIGN_IN_FAILED)
        finally:
            self.prefix_failures.settle(reservation, failed=failed)
        result = LoginResult(principal.principal_id, ACR_PHR, done.auth_time, tuple(AMR_PASSKEY))
        origin = Origin(ip, user_agent, PASSKEY_SIGN_IN_ENDPOINT)
        refused = self._check_origin(principal, origin, result.acr)
        if refused is not None:
            return LoginOutcome(error=refused)
        return LoginOutcome(
            redirect_to=self._finish_sign_in(
                params, client_id, request_uri, principal, result, origin
            )
        )

    def _check_origin(
        self, principal: PrincipalInfo, origin: Origin, acr: str | None
    ) -> str | None:
        """After both factors: a device or network this account has not signed in from
        for KNOWN_ORIGIN_DAYS is an alert; a live session of the account from another
        network refuses this sign-in, or by policy lets only a passkey through (step_up),
        or only alerts. Returns the refusal's message, or None."""
        prefix = ip_prefix(origin.ip)
        seen = self.sessions.networks(
            principal.principal_id, self.clock.now() - KNOWN_ORIGIN_DAYS * 86_400
        )
        who = {
            "endpoint": origin.endpoint,
            "ip": origin.ip,
            "principal_id": principal.principal_id,
            "role": principal.role,
        }
        if seen and not any(
            s.ip_prefix == prefix and s.user_agent == _agent(origin.user_agent) for s in seen
        ):
            self.security_event("new_device_sign_in", **who)
            self.alert(
                "new_device_sign_in",
                **who,
                reason=f"a sign-in from a device or network not used in {KNOWN_ORIGIN_DAYS} days",
            )
        # A session whose network is unknown (a peer without an address) is no evidence.
        elsewhere = [
            s for s in seen if s.alive and s.ip_prefix and prefix and s.ip_prefix != prefix
        ]
        if not elsewhere:
            return None
        rule = self.other_network_sessions
        # step_up: a second network gets in only with the phishing-resistant factor a
        # stolen password and seed do not give.
        refuse = rule == "refuse" or (rule == "step_up" and not satisfies(acr, ACR_PHR))
        kind = "concurrent_session_refused" if refuse else "concurrent_session_other_network"
        self.security_event(kind, **who, sessions=len(elsewhere))
        self.alert(
            kind,
            **who,
            reason="a sign-in from another network while the account's session there lives",
        )
        if not refuse:
            return None
        return SIGNED_IN_ELSEWHERE_PASSKEY if rule == "step_up" else SIGNED_IN_ELSEWHERE

    def _may_manage_passkeys(self, caller: Caller) -> None:
        """Staff and dealers manage their own passkeys, after a recent second factor; once
        an account has a passkey, only a passkey sign-in adds or removes one, so a phished
        password and TOTP code cannot enroll the attacker's own key."""
        principal = self.principals(caller.principal_id)
        if principal is None or not principal.active or principal.role != caller.role:
            raise Forbidden("no such account", reason="principal_inactive")
        grant = self.role_grant(principal)
        if not (grant.staff or principal.role == "dealer"):
            raise Forbidden("passkeys are for professional accounts", reason="role_not_allowed")
        has_any = self.passkeys.has_passkey(caller.principal_id)
        require_step_up(
            caller,
            PASSKEY_MANAGEMENT_MAX_AGE,
            required_acr=ACR_PHR if has_any else ACR_MFA,
            clock=self.clock,
        )

    def passkey_registration_options(self, caller: Caller) -> dict[str, Any]:
        self._may_manage_passkeys(caller)
        try:
            return self.passkeys.registration_options(
                caller.principal_id, self.credentials.username_of(caller.principal_id)
            )
        except PasskeyRefused as exc:
            raise Conflict(
                "this account has as many passkeys as it may", reason=exc.reason
            ) from None

    def passkey_register(self, caller: Caller, body: Mapping[str, Any]) -> PasskeyInfo:
        self._may_manage_passkeys(caller)
        credential = body.get("credential")
        who = {"endpoint": PASSKEY_REGISTER_ENDPOINT, "ip": caller.ip}
        try:
            if not isinstance(credential, Mapping):
                raise PasskeyRefused("invalid_passkey_response", caller.principal_id)
            name = body.get("name")
            info = self.passkeys.verify_registration(
                caller.principal_id, credential, name=name if isinstance(name, str) else None
            )
        except PasskeyRefused as exc:
            self.security_event(
                f"passkey_registration_{exc.reason}",
                **who,
                principal_id=caller.principal_id,
                role=caller.role,
            )
            raise BadRequest("the passkey could not be registered", reason=exc.reason) from None
        # A new way into a professional account: the owner should hear of it at once.
        self.security_event(
            "passkey_registered",
            **who,
            principal_id=caller.principal_id,
            role=caller.role,
            credential_id=info.credential_id,
        )
        self.alert(
            "passkey_registered",
            **who,
            principal_id=caller.principal_id,
            reason="a passkey was added to a professional account",
        )
        return info

    def passkey_list(self, caller: Caller) -> list[PasskeyInfo]:
        return self.passkeys.list(caller.principal_id)

    def passkey_remove(self, caller: Caller, credential_id: str) -> None:
        self._may_manage_passkeys(caller)
        if not self.passkeys.remove(caller.principal_id, credential_id):
            raise NotFound("no such passkey", reason="passkey_unknown")
        self.security_event(
            "passkey_removed",
            endpoint=PASSKEY_REMOVE_ENDPOINT,
            ip=caller.ip,
            principal_id=caller.principal_id,
            role=caller.role,
            credential_id=credential_id,
        )

    def _mfa_required_of(self, principal_id: str) -> bool:
        principal = self.principals(principal_id)
        return True if principal is None else self.mfa_required(principal)

    def _sign_in_failed(
        self, exc: LoginFailed, ip: str | None, endpoint: str = SIGN_IN_ENDPOINT
    ) -> None:
        # The name typed is never journaled: an unknown one may be a password typed in
        # the wrong field.
        who: dict[str, Any] = {"endpoint": endpoint, "ip": ip}
        if exc.principal_id is not None:
            principal = self.principals(exc.principal_id)
            who["principal_id"] = exc.principal_id
            who["role"] = principal.role if principal else None
        if exc.failures:
            who["failures"] = exc.failures
        self.security_event(exc.reason, **who)
        if exc.locked:
            self.security_event("account_locked", **who)
            self.alert(
                "account_locked",
                **who,
                reason=f"account locked after {exc.failures} failed sign-ins",
            )

    def _prefix_limited(self, ip: str | None, endpoint: str = SIGN_IN_ENDPOINT) -> None:
        who = {"endpoint": endpoint, "ip": ip}
        self.security_event("ip_prefix_limited", **who)
        self.alert(
            "ip_prefix_limited",
            **who,
            principal_id=f"ip_prefix:{ip_prefix(ip) or ip}",
            reason="failed sign-ins from one network past its budget (password spraying)",
        )

    def deny(self, form: Mapping[str, str]) -> str:
        params = self.load_par(form.get("client_id"), form.get("request_uri"))
        err = AccessDeniedError("the user cancelled")
        return self._redirect(params, error=err.error)

    def _redirect(self, params: Mapping[str, Any], **values: str) -> str:
        query = {**values, "iss": self.issuer}  # RFC 9207 §2
        if params.get("state"):
            query["state"] = params["state"]
        return f"{params['redirect_uri']}?{urlencode(query)}"

    # -- RFC 8414 -------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        from strongroom.auth.rfc8414_metadata import server_metadata

        return server_metadata(self)

    def jwks(self) -> dict[str, Any]:
        return self.tokens.keys.public_jwks()

    def logout(self, session_id: str) -> None:
        self.sessions.end(session_id, "logout")

    def end_session(self, principal_id: str, session_id: str, reason: str) -> None:
        """End one of `principal_id`'s live sessions, refresh tokens included (NotFound
        for a session of anyone else, or one already over)."""
        if not any(s["session"] == session_id for s in self.sessions.of_principal(principal_id)):
            raise NotFound("no such session", reason="not_found")
        self.sessions.end(session_id, reason)

    def sign_out(
        self, caller: Caller, *, post_logout_redirect_uri: str | None, state: str | None
    ) -> str | None:
        """RP-initiated logout by the session's own token: the session ends (every access
        token of it is refused from the next request on), its refresh tokens with it.
        Returns where the browser goes next: the client's registered redirect URI it
        asked for, with `state`, or None."""
        if caller.session_id is None:
            raise InvalidRequestError("this token belongs to no session")
        target = None
        if post_logout_redirect_uri:
            client = self.clients.get(caller.client_id)
            if post_logout_redirect_uri not in client.redirect_uris:
                raise InvalidRequestError("post_logout_redirect_uri is not registered")
            query = urlencode({"state": state}) if state else ""
            target = post_logout_redirect_uri + (f"?{query}" if query else "")
        self.sessions.end(caller.session_id, "logout")
        self.security_event(
            "signed_out",
            endpoint=LOGOUT_ENDPOINT,
            ip=caller.ip,
            principal_id=caller.principal_id,
            role=caller.role,
        )
        return target

    def revoke_principal(self, principal_id: str) -> None:
        self.sessions.revoke_principal(principal_id)


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{key} is required")
    return value


def _assertion_subject(form: Mapping[str, str]) -> str | None:
    """The client_id a client assertion claims, read only to find the client's keys; the
    assertion is then verified with exactly those keys."""
    assertion = form.get("client_assertion")
    if not assertion:
        return None
    from joserfc import jws

    try:
        obj = jws.extract_compact(assertion.encode())
        import json

        sub = json.loads(obj.payload).get("sub")
    except Exception:  # noqa: BLE001 - any parse failure is an unknown client
        return None
    return sub if isinstance(sub, str) else None
