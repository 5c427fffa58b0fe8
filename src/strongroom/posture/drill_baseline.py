"""The drill's baseline: the same deployment with its budgets and detectors off, so that
"records obtained with defences" has something to be compared with.

Off is the policy's own shadow mode: every budget and every detector of the baseline's
policy gets `shadow: true`, so they still count and score but never refuse, throttle or
contain. The rest of the policy (roles, purposes, masking, search specificity, cases:
what an account may see at all) is untouched: the baseline measures what budgets and
detectors add, nothing else.

`baseline_server(home, issuer)` copies the home to a temporary folder (SQLite files with
SQLite's online backup, consistent while the target keeps writing; no budget state, no
Redis: the baseline counts alone; no containment the detectors decided; no witnesses), writes that
policy, serves the copy with `strongroom
serve` on a free loopback port and stops it afterwards. The copy keeps the home's keys,
principals, sessions and cases, so the tokens the drill holds for the target work on the
baseline too; the issuer is the target's, as its metadata names it.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from strongroom.config import RELATIVE_SQLITE, Home
from strongroom.detect.store import containments
from strongroom.detect.table import DETECTORS
from strongroom.errors import BadRequest
from strongroom.posture.served import served

COPIED_DATABASES = ("registry_url", "journal_url")
CONTAINMENTS = containments.name


def baseline_policy(text: str) -> str:
    """The policy with every budget and every detector in shadow mode."""
    doc: dict[str, Any] = yaml.safe_load(text) or {}
    for budget in doc.get("budgets") or ():
        budget["shadow"] = True
    section: dict[str, Any] = dict(doc.get("detectors") or {})
    for entry in DETECTORS:
        key = next((n for n in (entry.name, *entry.aliases) if n in section), entry.name)
        spec = dict(section.get(key) or {})
        spec["shadow"] = True
        section[key] = spec
    doc["detectors"] = section
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _sqlite_file(home: Home, url: str) -> Path:
    path = Path(url[len(RELATIVE_SQLITE) :]) if url.startswith(RELATIVE_SQLITE) else None
    if path is None or not path.is_relative_to(home.path):
        raise BadRequest(
            "--baseline copies the home, so its registry and journal must be SQLite files "
            f"in it ({home.path}); for another database, start a baseline deployment with "
            "budgets and detectors in shadow yourself and give its URL with --baseline-url"
        )
    return path


def copy_home(home: Home, dst: Path, *, issuer: str | None = None) -> Home:
    settings = home.settings()
    files = {key: _sqlite_file(home, getattr(settings, key)) for key in COPIED_DATABASES}
    shutil.copytree(
        home.path,
        dst,
        ignore=shutil.ignore_patterns(
            "*.db", "*.db-*", "serve.log", "alerts.jsonl", "exports", "*.sock"
        ),
    )
    for path in files.values():
        target = dst / path.relative_to(home.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            contextlib.closing(sqlite3.connect(path)) as src,
            contextlib.closing(sqlite3.connect(target)) as out,
        ):
            src.backup(out)
            # Without detectors, none of their past containments either (an earlier drill
            # may have blocked this very network): the baseline starts with none.
            if out.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (CONTAINMENTS,),
            ).fetchone():
                out.execute(f"DELETE FROM {CONTAINMENTS}")  # noqa: S608 - a constant name
                out.commit()
    copy = Home(dst)
    # No Redis (the baseline counts alone) and no witnesses: the copy's journal grows apart
    # from the target's, and a witness would take its checkpoints for a fork of the log.
    copy.update_config(
        redis_url="",
        witnesses=[],
        **{key: RELATIVE_SQLITE + str(path.relative_to(home.path)) for key, path in files.items()},
        **({"issuer": issuer} if issuer else {}),
    )
    copy.policy_path.write_text(
        baseline_policy(home.policy_path.read_text(encoding="utf-8")), encoding="utf-8"
    )
    return copy


def issuer_of(http: httpx.Client, url: str) -> str | None:
    """The issuer the target names in its metadata (tokens it issued carry it)."""
    try:
        r = http.get(url.rstrip("/") + "/.well-known/oauth-authorization-server")
        issuer = r.json().get("issuer") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return str(issuer) if issuer else None


@contextlib.contextmanager
def baseline_server(home: Home, *, issuer: str | None = None) -> Iterator[str]:
    """A copy of `home` with budgets and detectors in shadow, served on loopback for the
    block's duration; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="strongroom-baseline-") as tmp:
        copy = copy_home(home, Path(tmp) / "home", issuer=issuer)
        with served(copy, log_path=Path(tmp) / "serve.log") as url:
            yield url
