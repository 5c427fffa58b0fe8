"""The OpenAPI document as clients need it: how to authenticate, declared.

`declare_security(app, policy)` replaces `app.openapi` with a cached function that adds
the security schemes (OAuth 2 authorization code at /oauth/authorize and /oauth/token,
tokens DPoP-bound; an http bearer scheme for demo tokens) and, on every /v1 operation,
the scope the policy requires for it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import FastAPI

from strongroom.policy.model import Policy

OAUTH2 = "oauth2"
BEARER = "demoBearer"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def security_schemes(policy: Policy) -> dict[str, Any]:
    opens: dict[str, list[str]] = defaultdict(list)
    for eid, spec in policy.endpoints.items():
        opens[spec.scope].append(eid)
    return {
        OAUTH2: {
            "type": "oauth2",
            "description": (
                "The embedded authorization server (metadata at "
                "/.well-known/oauth-authorization-server): FAPI 2.0 baseline, pushed "
                "authorization requests (/oauth/par), PKCE S256. Access tokens are "
                "DPoP-bound (RFC 9449): present them as `Authorization: DPoP <token>` with "
                "a `DPoP` proof header for each request; a bound token sent as `Bearer` "
                "is refused. The purpose and case travel as RFC 9396 "
                "`authorization_details`."
            ),
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/oauth/authorize",
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": {
                        scope: "opens " + ", ".join(eids) for scope, eids in sorted(opens.items())
                    },
                }
            },
        },
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "Demo and test tokens from `strongroom token issue` (not DPoP-bound), "
                "presented as `Authorization: Bearer <token>`."
            ),
        },
    }


def add_security(doc: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """`doc` with the security schemes declared and every /v1 operation requiring one:
    OAuth 2 with the scope the policy names for the endpoint, or a demo bearer token."""
    doc.setdefault("components", {})["securitySchemes"] = security_schemes(policy)
    for path, item in doc.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            spec = policy.endpoints.get(f"{method.upper()} {path}")
            scopes = [spec.scope] if spec is not None else []
            op["security"] = [{OAUTH2: scopes}, {BEARER: []}]
    return doc


def declare_security(app: FastAPI, policy: Policy) -> None:
    """Serve the document with its security declared, built once and cached as FastAPI
    caches its own (`app.openapi_schema`)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_security(build(), policy)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
