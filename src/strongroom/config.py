"""The home folder (`STRONGROOM_HOME`, default `./.strongroom`) and its `config.toml`.

config.toml   database and Redis URLs, trusted proxies
policy.yaml   a copy of the shipped default until edited
keys/         mode 0700: KEKs, blind-index key, token and checkpoint signing keys
registry.db   the embedded registry (SQLite)
journal.db    the embedded journal (SQLite), apart from the registry
exports/      generated exports
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from strongroom.errors import BadRequest

DEFAULT_HOME = ".strongroom"


_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class Settings:
    registry_url: str
    journal_url: str
    redis_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "strongroom-api"
    # Serving, per worker: requests served at once (the thread pool and the registry's
    # connections are sized to match), requests that may wait for a place, and how long.
    max_inflight: int = 32
    max_queued: int = 480
    queue_wait_seconds: float = 5.0
    extra: dict[str, object] = field(default_factory=dict)


class Home:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()

    @classmethod
    def from_env(cls) -> Home:
        return cls(os.environ.get("STRONGROOM_HOME", DEFAULT_HOME))

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def policy_path(self) -> Path:
        return self.path / "policy.yaml"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def exports_dir(self) -> Path:
        return self.path / "exports"

    def exists(self) -> bool:
        return self.config_path.is_file()

    def ensure_dirs(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.keys_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.keys_dir, 0o700)
        self.exports_dir.mkdir(mode=0o700, exist_ok=True)

    def default_settings(self) -> Settings:
        return Settings(
            registry_url=f"sqlite:///{self.path / 'registry.db'}",
            journal_url=f"sqlite:///{self.path / 'journal.db'}",
        )

    def write_config(self, settings: Settings) -> None:
        lines = [
            "# Strongroom configuration. Edit and restart the server.",
            f'registry_url = "{settings.registry_url}"',
            f'journal_url = "{settings.journal_url}"',
            f'redis_url = "{settings.redis_url or ""}"  # empty: in-memory budgets',
            "trusted_proxies = [" + ", ".join(f'"{p}"' for p in settings.trusted_proxies) + "]",
            f'issuer = "{settings.issuer}"',
            f'audience = "{settings.audience}"',
            "# serving, per worker: requests at once, requests waiting, seconds they may wait",
            f"max_inflight = {settings.max_inflight}",
            f"max_queued = {settings.max_queued}",
            f"queue_wait_seconds = {settings.queue_wait_seconds}",
            "",
        ]
        self.config_path.write_text("\n".join(lines), encoding="utf-8")

    def settings(self) -> Settings:
        if not self.exists():
            raise BadRequest(
                f"no Strongroom home at {self.path}: run `strongroom init` first "
                "(or set STRONGROOM_HOME)"
            )
        try:
            raw = tomllib.loads(self.config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise BadRequest(f"{self.config_path}: {exc}") from exc
        defaults = self.default_settings()
        known = {
            "registry_url",
            "journal_url",
            "redis_url",
            "trusted_proxies",
            "issuer",
            "audience",
            "max_inflight",
            "max_queued",
            "queue_wait_seconds",
        }
        return Settings(
            registry_url=str(raw.get("registry_url") or defaults.registry_url),
            journal_url=str(raw.get("journal_url") or defaults.journal_url),
            redis_url=str(raw["redis_url"]) if raw.get("redis_url") else None,
            trusted_proxies=tuple(str(p) for p in raw.get("trusted_proxies", ())),
            issuer=str(raw.get("issuer") or defaults.issuer),
            audience=str(raw.get("audience") or defaults.audience),
            max_inflight=_number(raw, "max_inflight", defaults.max_inflight, int, 1),
            max_queued=_number(raw, "max_queued", defaults.max_queued, int, 0),
            queue_wait_seconds=_number(
                raw, "queue_wait_seconds", defaults.queue_wait_seconds, float, 0
            ),
            extra={k: v for k, v in raw.items() if k not in known},
        )


def _number(raw: dict[str, object], key: str, default: _N, kind: type[_N], least: _N) -> _N:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
        raise BadRequest(f"config.toml: {key} must be a number of at least {least}")
    if kind is int and not isinstance(value, int):
        raise BadRequest(f"config.toml: {key} must be a whole number")
    return kind(value)
