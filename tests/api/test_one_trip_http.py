"""The request path's shape (issue 24): every /v1 route is an async endpoint that makes one
thread-pool trip for its blocking work (authentication and the task together), and its
answers keep their status, rate-limit headers and no-store. A caller that cannot be
authenticated learns nothing about what a route would accept: its malformed requests get
the 401, not the validation details."""

from __future__ import annotations

import asyncio

from fastapi.routing import APIRoute

from strongroom.api import routes_admin, routes_cases, routes_exports, routes_registry
from tests.deployment import Deployment

FORGED = {"Authorization": "Bearer eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl"}


def test_every_v1_route_makes_one_trip() -> None:
    """FastAPI sends a sync endpoint, each sync dependency and the validation of a typed
    answer to the thread pool one by one; async ones stay on the event loop."""
    routers = (routes_registry, routes_cases, routes_admin, routes_exports)
    routes = [
        r
        for module in routers
        for r in module.router.routes
        if isinstance(r, APIRoute) and r.include_in_schema
    ]
    assert len(routes) > 30
    for r in routes:
        assert asyncio.iscoroutinefunction(r.dependant.call), r.path
        stack = list(r.dependant.dependencies)
        while stack:
            dep = stack.pop()
            assert asyncio.iscoroutinefunction(dep.call), (r.path, dep.call)
            stack.extend(dep.dependencies)
        assert r.response_field is None, r.path


def test_malformed_body_from_an_unauthenticated_caller_is_a_401(deployment: Deployment) -> None:
    r = deployment.client.post("/v1/permits/verify", json={"permit_number": 7}, headers=FORGED)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "errors" not in r.json()
    assert "permit_number" not in r.text


def test_unknown_parameter_from_an_unauthenticated_caller_is_a_401(
    deployment: Deployment,
) -> None:
    r = deployment.client.get("/v1/me", params={"sort": "family_name"}, headers=FORGED)
    assert r.status_code == 401
    assert "sort" not in r.text


def test_malformed_body_from_a_caller_is_a_400_with_its_errors(deployment: Deployment) -> None:
    r = deployment.client.post(
        "/v1/permits/verify", json={"permit_number": 7}, headers=deployment.headers("dealer")
    )
    assert r.status_code == 400
    assert {".".join(e["loc"]) for e in r.json()["errors"]} >= {"body.family_name"}


def test_answers_keep_status_and_headers(deployment: Deployment) -> None:
    r = deployment.client.post(
        "/v1/cases",
        json={"kind": "renewal", "reference": "TEST-2026-0002"},
        headers=deployment.headers("prefecture", purpose="case_management"),
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert "RateLimit" in r.headers and "RateLimit-Policy" in r.headers
    assert r.json()["status"] == "open"
