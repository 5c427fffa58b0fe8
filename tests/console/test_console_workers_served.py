"""The console behind `strongroom serve --workers 2`, over real HTTP: a sign-in whose
callback and pages land on either worker (each request on a new connection, so the
kernel spreads them), then a restart of the server, all with one session cookie."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
import sqlalchemy as sa

from strongroom.auth.clients import ClientRegistry
from strongroom.console.web import LOGIN_COOKIE, SESSION_COOKIE
from tests.console.console_testkit import PASSWORD, ConsoleSetup, console_setup
from tests.served import served

pytestmark = pytest.mark.slow

VIEWS = 16


@pytest.fixture
def home(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, redis_prefix: str
) -> Iterator[ConsoleSetup]:
    """The embedded SQLite home; several workers need Redis for the budgets, detectors and
    DPoP replay cache (`strongroom serve` refuses --workers 2 without it), not for the
    console's sessions."""
    setup = console_setup(tmp_path_factory.mktemp("home"))
    setup.dep.client.close()
    setup.dep.service.close()
    setup.dep.home.update_config(redis_url=redis_url, redis_prefix=redis_prefix)
    yield setup
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=redis_prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def register(setup: ConsoleSetup, url: str) -> None:
    engine = sa.create_engine(setup.dep.home.settings().registry_url)
    ClientRegistry(engine).register(
        "console", public=True, redirect_uris=[url + "/console/callback"]
    )
    engine.dispose()


def fresh(url: str, path: str, cookies: dict[str, str], **kw: object) -> httpx.Response:
    """One request on its own connection (either worker may take it)."""
    with httpx.Client(base_url=url, cookies=cookies, timeout=30) as http:
        return http.request(str(kw.pop("method", "GET")), path, **kw)  # type: ignore[arg-type]


def sign_in(setup: ConsoleSetup, url: str) -> str:
    start = fresh(url, "/console/sign-in/start", {})
    assert start.status_code == 303, start.text
    login_cookie = {LOGIN_COOKIE: start.cookies[LOGIN_COOKIE]}
    form_url = start.headers["location"]
    request_uri = parse_qs(urlsplit(form_url).query)["request_uri"][0]
    assert fresh(url, form_url, {}).status_code == 200
    account = setup.auditor
    login = fresh(
        url,
        "/oauth/authorize",
        {},
        method="POST",
        data={
            "client_id": "console",
            "request_uri": request_uri,
            "username": account.username,
            "password": PASSWORD,
            "otp": account.code(),
            "action": "login",
        },
    )
    assert login.status_code == 303, login.text
    back = urlsplit(login.headers["location"])
    done = fresh(url, f"{back.path}?{back.query}", login_cookie)
    assert done.status_code == 303 and done.headers["location"] == "/console/", done.text
    return str(done.cookies[SESSION_COOKIE])


def test_two_workers_and_a_restart_keep_one_console_session(home: ConsoleSetup) -> None:
    with served(home.dep.home, workers=2) as url:
        register(home, url)
        sid = sign_in(home, url)
        cookies = {SESSION_COOKIE: sid}
        answers = [fresh(url, "/console/journal", cookies).status_code for _ in range(VIEWS)]
        assert answers == [200] * VIEWS
    with served(home.dep.home, workers=2) as url:
        register(home, url)
        page = fresh(url, "/console/journal", {SESSION_COOKIE: sid})
        assert page.status_code == 200, page.text
        assert home.auditor.principal in page.text
