"""`strongroom call ROLE METHOD PATH [JSON]`: one API request as the demo's principal of
ROLE, with a DPoP-bound token (RFC 9449) and a fresh proof per request.

The DPoP key is an EC P-256 key kept in the home (`cli/dpop-key.jwk`, mode 0600); tokens
bound to it are minted from the home's keys (in production mode through the
administration tasks, journaled) and kept until a minute before they expire. The request
goes to the address `strongroom serve` was last started on, else the issuer's, or --url.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from strongroom.cli.common import cli_errors, console, err_console, home
from strongroom.config import Home
from strongroom.errors import BadRequest

KEY_FILE = "dpop-key.jwk"
TOKENS_FILE = "tokens.json"
SPARE_SECONDS = 60  # a cached token this close to its expiry is replaced


def call_command(
    role: Annotated[str, typer.Argument(help="owner, dealer, police, prefecture, auditor, admin")],
    method: Annotated[str, typer.Argument(help="GET, POST, ...")],
    path: Annotated[str, typer.Argument(help="e.g. /v1/me")],
    body: Annotated[str | None, typer.Argument(help="a JSON body")] = None,
    url: Annotated[str | None, typer.Option(help="the server (default: the served one)")] = None,
    subject: Annotated[
        str | None, typer.Option(help="principal ID (default: the demo's for ROLE)")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="task purpose (default: the role's)")] = None,
    case: Annotated[str | None, typer.Option(help="case ID (prefecture: the demo's)")] = None,
) -> None:
    """Send one request as ROLE with a DPoP-bound token; print the answer. Exit 0 for a
    2xx answer, 1 for any other, 2 for a usage error."""
    import httpx

    from strongroom.clock import SYSTEM_CLOCK
    from strongroom.posture.drill_client import Account

    with cli_errors():
        h = home()
        settings = h.settings()
        payload = _json(body)
        who = subject or demo_subject(h, role)
        if role == "prefecture" and case is None and purpose in (None, "case_work"):
            case = demo_case_id(h)
        key = dpop_key(h)
        token = _token(h, role=role, subject=who, purpose=purpose, case=case, key=key)
        base = url or served_url(h) or settings.issuer
        try:
            with httpx.Client(timeout=30) as http:
                account = Account(http, base, SYSTEM_CLOCK, token=token)
                account.dpop_key = key
                answer = account.request(method.upper(), path, payload)
        except httpx.HTTPError as exc:
            raise BadRequest(f"cannot reach {base}: {type(exc).__name__}") from None
    err_console.print(f"HTTP {answer.status_code} {answer.reason_phrase}", highlight=False)
    try:
        console.print_json(json.dumps(answer.json()))
    except ValueError:
        console.print(answer.text, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if answer.is_success else 1)


def demo_subject(h: Home, role: str) -> str:
    from strongroom.cli.seeding import read_demo

    doc = read_demo(h)
    found = (
        doc.get("fixtures", {}).get("owner_id")
        if role == "owner"
        else doc.get("principals", {}).get(role)
    )
    if found:
        return str(found)
    raise BadRequest(
        f"no demo principal for role {role!r} in {h.path}: run `strongroom demo --no-serve` "
        "first, or give --subject ID"
    )


def demo_case_id(h: Home) -> str | None:
    from strongroom.cli.seeding import read_demo

    found = read_demo(h).get("case")
    return str(found) if found else None


def served_url(h: Home) -> str | None:
    """The address `strongroom serve` was last started on for this home."""
    path = h.served_path
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("url")
    except (OSError, ValueError):
        return None
    return str(found) if found else None


def dpop_key(h: Home) -> Any:
    """The home's client DPoP key, made on first use (private: mode 0600)."""
    from joserfc.jwk import ECKey

    folder = _cli_dir(h)
    path = folder / KEY_FILE
    if path.is_file():
        return ECKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    key = ECKey.generate_key("P-256")
    _write_private(path, json.dumps(key.as_dict(private=True)))
    return key


def _token(
    h: Home, *, role: str, subject: str, purpose: str | None, case: str | None, key: Any
) -> str:
    from strongroom.auth.rfc9449_dpop import key_thumbprint
    from strongroom.cli.demo import DEMO_JUSTIFICATION
    from strongroom.cli.token_cmds import mint_token
    from strongroom.clock import SYSTEM_CLOCK

    jkt = key_thumbprint(key.as_dict(private=False))
    name = "|".join((role, subject, purpose or "", case or "", jkt))
    path = _cli_dir(h) / TOKENS_FILE
    try:
        cache: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    now = SYSTEM_CLOCK.now()
    kept = cache.get(name)
    if kept and kept.get("expires_at", 0) - SPARE_SECONDS > now:
        return str(kept["token"])
    token, seconds = mint_token(
        h,
        role=role,
        subject=subject,
        purpose=purpose,
        case=case,
        justification=DEMO_JUSTIFICATION if case else None,
        jkt=jkt,
    )
    cache = {k: v for k, v in cache.items() if v.get("expires_at", 0) > now}
    cache[name] = {"token": token, "expires_at": now + seconds}
    _write_private(path, json.dumps(cache))
    return token


def _json(body: str | None) -> dict[str, Any] | None:
    if body is None:
        return None
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value


def _cli_dir(h: Home) -> Path:
    folder = h.path / "cli"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
