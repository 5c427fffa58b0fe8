"""Answers that tell the truth about the API itself (issue 21, first hour): a 405 names
the methods its path accepts."""

from __future__ import annotations

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
