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
