"""Answers that tell the truth about the API itself (issue 21, first hour): a 405 names
the methods its path accepts; the OpenAPI document says how to authenticate; its pages
load nothing from outside the app."""

from __future__ import annotations

import re

import pytest

from tests.deployment import Deployment

NIL = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/cases", "GET, POST"),
        ("PUT", "/v1/me", "GET"),
        ("GET", f"/v1/cases/{NIL}/close", "POST"),
        ("DELETE", "/v1/exports", "GET, POST"),
    ],
)
def test_405_lists_the_methods_the_path_accepts(
    deployment: Deployment, method: str, path: str, allow: str
) -> None:
    r = deployment.client.request(method, path, headers=deployment.headers("prefecture"))
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["allow"] == allow
    body = r.json()
    assert body["status"] == 405
    assert body["type"] == "/problems/method-not-allowed"


def test_openapi_declares_how_to_authenticate(deployment: Deployment) -> None:
    r = deployment.client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    schemes = doc["components"]["securitySchemes"]
    oauth = [s for s in schemes.values() if s["type"] == "oauth2"]
    assert len(oauth) == 1
    flow = oauth[0]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "/oauth/authorize"
    assert flow["tokenUrl"] == "/oauth/token"
    assert "DPoP" in oauth[0]["description"]
    policy = deployment.service.policy.policy
    assert set(flow["scopes"]) == {spec.scope for spec in policy.endpoints.values()}
    operations = [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        if path.startswith("/v1/")
        for method, op in item.items()
    ]
    assert len(operations) == len(policy.endpoints)
    for method, path, op in operations:
        assert op.get("security"), f"{method} {path} declares no security"
        for requirement in op["security"]:
            assert set(requirement) <= set(schemes), f"{method} {path}: unknown scheme"
        oauth_name = next(n for n, s in schemes.items() if s["type"] == "oauth2")
        required = [req[oauth_name] for req in op["security"] if oauth_name in req]
        assert required == [[policy.endpoints[f"{method} {path}"].scope]]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_outside(deployment: Deployment, page: str) -> None:
    r = deployment.client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "/openapi.json" in html
    outside = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+", html)
    assert outside == [], f"{page} references {outside}"
    assets = re.findall(r"""(?:src|href)=["']?(/[^"' >]+)""", html)
    assert any(a.endswith(".js") for a in assets), html
    for asset in assets:
        a = deployment.client.get(asset)
        assert a.status_code == 200, asset
        assert len(a.content) > 1000, asset


def test_swagger_ui_does_not_send_the_document_to_a_validator(deployment: Deployment) -> None:
    html = deployment.client.get("/docs").text
    assert '"validatorUrl": null' in html
    assert deployment.client.get("/docs/oauth2-redirect").status_code == 200
