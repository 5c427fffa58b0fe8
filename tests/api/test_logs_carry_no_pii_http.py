"""Nothing that identifies a person or a weapon reaches the server's log: a served worker
answers lookups, verifications, searches, malformed bodies and the retired serial-in-path
route, and its whole log is searched for the values it was sent. The log is JSON lines,
one access line a request naming the route template and the request's ID (the one its
answer carried in X-Request-ID)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from strongroom.cli.demo import create_demo_principals
from strongroom.cli.seeding import seed_home
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.initialize import initialize
from tests.served import served


def test_the_server_log_holds_no_seeded_value(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    initialize(home)
    f = seed_home(home, persons=120, seed=9).fixtures
    svc = compose(home)
    try:
        principals = create_demo_principals(svc, f)
        police = svc.token_issuer.issue(role="police", subject=principals["police"])
        dealer = svc.token_issuer.issue(role="dealer", subject=principals["dealer"])
    finally:
        svc.close()
    values = [f["weapon_serial"], f["family_name"], f["birth_date"], f["permit_number"]]
    with served(home) as url:
        with httpx.Client(base_url=url, timeout=10) as c:
            p = {"Authorization": f"Bearer {police}"}
            d = {"Authorization": f"Bearer {dealer}"}
            answers = [
                c.post("/v1/weapons/lookup", json={"serial": f["weapon_serial"]}, headers=p),
                c.get(f"/v1/weapons/{f['weapon_serial']}", headers=p),
                c.post(
                    "/v1/persons/search",
                    json={"family_name": f["family_name"], "birth_date": f["birth_date"]},
                    headers=p,
                ),
                c.post(
                    "/v1/permits/verify",
                    json={
                        "permit_number": f["permit_number"],
                        "family_name": f["family_name"],
                        "birth_date": f["birth_date"],
                    },
                    headers=d,
                ),
                # malformed: the values sit in a body the server refuses
                c.post(
                    "/v1/permits/verify",
                    json={"permit_number": f["permit_number"], "family_name": f["family_name"]},
                    headers=d,
                ),
                c.post("/v1/weapons/lookup", json={"serial": f["weapon_serial"]}),  # no token
            ]
    assert [a.status_code for a in answers] == [200, 410, 200, 200, 400, 401]
    log = (home.path / "serve.log").read_text(encoding="utf-8", errors="replace")
    assert log.strip(), "the server wrote no log at all"
    for value in values:
        assert value not in log, f"{value!r} is in the server's log"
        assert value not in str([a.headers for a in answers])

    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "strongroom.access"}
    for answer in answers:
        line = access[answer.headers["x-request-id"]]
        assert line["status"] == answer.status_code
    routes = [access[a.headers["x-request-id"]]["route"] for a in answers]
    assert routes == [
        "/v1/weapons/lookup",
        "/v1/weapons/{serial}",
        "/v1/persons/search",
        "/v1/permits/verify",
        "/v1/permits/verify",
        "/v1/weapons/lookup",  # refused at the door, before routing: still its template
    ]
