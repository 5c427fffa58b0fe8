"""RFC 8414: authorization server metadata, describing exactly what this server enforces
(PAR required, S256 only, DPoP, private_key_jwt, RFC 9207 `iss`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strongroom.auth.acr import ACR_MFA, ACR_PASSWORD, ACR_PHR
from strongroom.auth.rfc7523_client_auth import ALGS as CLIENT_ASSERTION_ALGS
from strongroom.auth.rfc9068 import ALG, PURPOSE_DETAIL_TYPE
from strongroom.auth.rfc9449_dpop import ALGS as DPOP_ALGS

if TYPE_CHECKING:
    from strongroom.auth.server import AuthorizationServer


def server_metadata(server: AuthorizationServer) -> dict[str, Any]:
    scopes: set[str] = set()
    for role in server.role_names:
        try:
            scopes |= set(server.role_grants(role).scopes)
        except Exception:  # noqa: BLE001, S112 - a role missing from the policy adds nothing
            continue
    return {
        "issuer": server.issuer,
        "authorization_endpoint": server.url("/oauth/authorize"),
        "token_endpoint": server.token_endpoint,
        "pushed_authorization_request_endpoint": server.url("/oauth/par"),
        "require_pushed_authorization_requests": True,
        "revocation_endpoint": server.url("/oauth/revoke"),
        "end_session_endpoint": server.url("/oauth/logout"),
        "introspection_endpoint": server.url("/oauth/introspect"),
        "jwks_uri": server.url("/oauth/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
        "dpop_signing_alg_values_supported": list(DPOP_ALGS),
        "authorization_response_iss_parameter_supported": True,
        "authorization_details_types_supported": [PURPOSE_DETAIL_TYPE],
        "acr_values_supported": [ACR_PASSWORD, ACR_MFA, ACR_PHR],
        "scopes_supported": sorted(scopes),
        "access_token_signing_alg_values_supported": [ALG],
    }
