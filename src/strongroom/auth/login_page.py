"""The server-rendered sign-in page: a plain HTML form, every value HTML-escaped, sent with
headers that forbid framing (clickjacking), caching and any script but our own passkey
button's (`templates/passkey.js`, served from this origin: no inline script runs)."""

from __future__ import annotations

import html
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@lru_cache(maxsize=1)
def _template() -> Template:
    text = (
        resources.files("strongroom.auth")
        .joinpath("templates/login.html")
        .read_text(encoding="utf-8")
    )
    return Template(text)


@lru_cache(maxsize=1)
def passkey_script() -> str:
    return (
        resources.files("strongroom.auth")
        .joinpath("templates/passkey.js")
        .read_text(encoding="utf-8")
    )


def render_login(*, action: str, context: dict[str, Any], error: str | None = None) -> str:
    values = {
        k: html.escape(str(context.get(k) or ""), quote=True)
        for k in ("client_id", "request_uri", "username")
    }
    return _template().substitute(
        action=html.escape(action, quote=True), error=html.escape(error or ""), **values
    )
