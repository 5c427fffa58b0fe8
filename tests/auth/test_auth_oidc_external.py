"""An external OIDC issuer served by a real HTTP server on a random loopback port:
discovery, JWKS with refresh on an unknown kid, claim-to-role mapping, and refusals."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from strongroom.auth.oidc_external import ExternalIssuer
from strongroom.auth.resource_server import InMemoryRevocations, ResourceServer
from strongroom.auth.role_grants import load_role_grant
from strongroom.clock import FakeClock
from strongroom.errors import Unauthorized


class Provider:
    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, auto_kid=True)]
        self.jwks_hits = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/realms/registry"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = {"issuer": provider.url, "jwks_uri": provider.url + "/certs"}
                elif self.path.endswith("/certs"):
                    provider.jwks_hits += 1
                    body = {"keys": [k.as_dict(private=False) for k in provider.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def token(self, clock: FakeClock, key: RSAKey | None = None, **over: object) -> str:
        key = key or self.keys[-1]
        now = int(clock.now())
        claims = {
            "iss": self.url,
            "aud": "strongroom-api",
            "sub": "kc-user-1",
            "iat": now,
            "exp": now + 300,
            "jti": "kc-jti",
            "azp": "registry-console",
            "scope": "persons:read admin",
            "realm_access": {"roles": ["gendarme"]},
            "purpose": "investigation",
        }
        claims.update(over)
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    p.thread.start()
    yield p
    p.httpd.shutdown()
    p.httpd.server_close()


@pytest.fixture
def issuer(provider: Provider, clock: FakeClock) -> ExternalIssuer:
    return ExternalIssuer(
        provider.url,
        audience="strongroom-api",
        role_map={"gendarme": "police", "agent-prefecture": "prefecture"},
        role_grants=load_role_grant,
        clock=clock,
    )


def test_provider_token_maps_to_caller(
    provider: Provider, issuer: ExternalIssuer, clock: FakeClock
) -> None:
    rs = ResourceServer(issuer, revocations=InMemoryRevocations(clock), clock=clock)
    caller = rs.authenticate(
        authorization=f"Bearer {provider.token(clock)}",
        dpop=None,
        method="GET",
        url="https://api.test/v1/x",
        ip=None,
        user_agent=None,
    )
    assert caller.role == "police" and caller.principal_id == "kc-user-1"
    assert caller.scopes == frozenset({"persons:read"})  # "admin" is not the role's
    assert caller.purpose == "investigation" and caller.client_id == "registry-console"


def test_unknown_kid_triggers_one_jwks_refresh(
    provider: Provider, issuer: ExternalIssuer, clock: FakeClock
) -> None:
    issuer.verify_access_token(provider.token(clock))
    assert provider.jwks_hits == 1
    issuer.verify_access_token(provider.token(clock))
    assert provider.jwks_hits == 1  # cached
    provider.keys.append(RSAKey.generate_key(2048, auto_kid=True))  # provider rotates
    clock.advance(11)
    assert issuer.verify_access_token(provider.token(clock))["sub"] == "kc-user-1"
    assert provider.jwks_hits == 2
    # A forged kid right after cannot make us fetch again.
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    with pytest.raises(Unauthorized):
        issuer.verify_access_token(provider.token(clock, key=stranger))
    assert provider.jwks_hits == 2


def test_provider_tokens_refused(
    provider: Provider, issuer: ExternalIssuer, clock: FakeClock
) -> None:
    bad = [
        provider.token(clock, aud="another-api"),
        provider.token(clock, iss="http://127.0.0.1:1/realms/evil"),
        provider.token(clock, exp=int(clock.now()) - 60),
        provider.token(clock, realm_access={"roles": ["visitor"]}),
        provider.token(clock, key=RSAKey.generate_key(2048, auto_kid=True)),
    ]
    for token in bad:
        with pytest.raises(Unauthorized):
            issuer.verify_access_token(token)


def test_discovery_must_name_the_configured_issuer(provider: Provider, clock: FakeClock) -> None:
    from strongroom.errors import Unavailable

    wrong = ExternalIssuer(provider.url + "-other", audience="a", role_map={}, clock=clock)
    with pytest.raises(Unavailable):
        wrong.discover()
