"""The OpenAPI document as clients need it: how to authenticate, declared; and its pages,
served by Strongroom itself.

`declare_security(app, policy)` replaces `app.openapi` with a cached function that adds
the security schemes (OAuth 2 authorization code at /oauth/authorize and /oauth/token,
tokens DPoP-bound; an http bearer scheme for demo tokens) and, on every /v1 operation,
the scope the policy requires for it.

`serve_docs(app)` serves Swagger UI at /docs and ReDoc at /redoc from the assets the
`fastapi-offline` package ships (mounted at /static/docs): no page loads anything from a
CDN, and Swagger UI's online validator is off (it would send the document out).
"""

from __future__ import annotations

from collections import defaultdict
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from strongroom.policy.model import Policy

ASSETS = "/static/docs"

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


def serve_docs(app: FastAPI) -> None:
    """/docs (Swagger UI), its OAuth 2 redirect page, and /redoc, every asset local. The
    app must be created with `docs_url=None, redoc_url=None`."""
    assets = files("fastapi_offline").joinpath("static")
    app.mount(ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} {app.version}"
    redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            oauth2_redirect_url=redirect,
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
