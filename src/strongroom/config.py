"""The home folder (`STRONGROOM_HOME`, default `./.strongroom`) and its `config.toml`.

config.toml   mode, database and Redis URLs (their passwords from files or environment
              variables it names), trusted proxies, serving limits, alert
              sinks, operations (metrics scrapers, log format, shutdown grace);
              unknown keys are errors; SQLite paths relative to the home
policy.yaml   a copy of the shipped default until edited
keys/         mode 0700: KEKs, blind-index key (unless key_provider = "pkcs11": then in the
              HSM), token and checkpoint signing keys
registry.db   the embedded registry (SQLite)
journal.db    the embedded journal (SQLite), apart from the registry
analytics.db  the embedded deployment's analytics release (views only: analysts may copy it)
exports/      generated exports
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import stat
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from strongroom.errors import BadRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_HOME = ".strongroom"
# demo: today's conveniences (unbound tokens from `strongroom token issue`) for `make demo`
# and tests. production: no side doors; every access token is DPoP-bound.
MODES: tuple[str, ...] = ("demo", "production")


_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class Settings:
    # Out of repr: they carry the password a file or the environment supplied.
    registry_url: str = field(repr=False)
    journal_url: str = field(repr=False)
    redis_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "strongroom-api"
    # Serving, per worker: requests served at once (the thread pool and the registry's
    # connections are sized to match), requests that may wait for a place, and how long.
    max_inflight: int = 32
    max_queued: int = 480
    queue_wait_seconds: float = 5.0
    # Namespace of this deployment's keys in a shared Redis.
    redis_prefix: str = "sr:"
    # With Redis, every worker's detectors see every worker's access events
    # (detect/feed.py); off, each judges only the requests sent to it.
    share_detection: bool = True
    # Alerts beyond the home's alerts.jsonl: a signed webhook, RFC 5424 syslog.
    alerts_webhook_url: str | None = None
    alerts_webhook_key_file: str | None = None
    alerts_syslog: str | None = None
    mode: str = "demo"

    # Operations. /metrics answers only peers in these networks (an empty list: nobody);
    # a scraper behind a proxy is judged by the address a trusted proxy passes on.
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    # `strongroom serve`'s log: JSON lines, or text for a terminal; one line per request
    # (route template, status, duration, request ID), never a path, query or body.
    log_format: str = "json"
    access_log: bool = True
    # On SIGTERM, how long requests in flight may take to finish before they are cut off
    # and the journal is closed: below the orchestrator's own grace period (Docker: 10 s).
    shutdown_grace_seconds: int = 5
    # Where the vault's root keys live: "file" (keys/vault.json, the embedded default) or
    # "pkcs11" (an HSM: the module, the token's label, and the PIN from a file or an
    # environment variable, never from this file).
    key_provider: str = "file"
    pkcs11_module: str | None = None
    pkcs11_token_label: str | None = None
    pkcs11_pin_file: str | None = None
    pkcs11_pin_env: str | None = None
    # Witnesses that hold our checkpoints (journal/witness.py): "<URL> <verifier key>" each.
    # The server sends them each new checkpoint every witness_interval_seconds, `journal
    # checkpoint` at once; `journal verify` holds the journal to what each of them holds.
    witnesses: tuple[str, ...] = ()
    witness_interval_seconds: int = 60
    # An external OpenID Connect issuer (Keycloak, ...) whose access tokens /v1 accepts as
    # well as ours (auth/oidc_external.py), for `audience`: its roles mapped to ours, each
    # "<its role>=<our role>"; the claims that carry them and the purpose (dotted paths).
    external_issuer: str | None = None
    external_roles: tuple[str, ...] = ()
    external_role_claim: str = "realm_access.roles"
    external_purpose_claim: str = "purpose"
    # The databases' passwords kept out of this file (and out of every copy of the home):
    # read from a file (a Compose or Kubernetes secret, /run/secrets/...) or from the
    # environment variable named, and set into registry_url / journal_url, which then name
    # no password. At most one of the two per database.
    registry_password_file: str | None = None
    registry_password_env: str | None = None
    journal_password_file: str | None = None
    journal_password_env: str | None = None

    @property
    def production(self) -> bool:
        return self.mode == "production"


LOG_FORMATS = ("json", "text")
KEY_PROVIDERS = ("file", "pkcs11")
# Every key config.toml may hold; any other is an error naming it and its line.
KEYS: tuple[str, ...] = tuple(f.name for f in fields(Settings))
# SQLite files named by a relative path live in the home, wherever the home is moved.
RELATIVE_SQLITE = "sqlite:///"


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

    @property
    def served_path(self) -> Path:
        """The address `strongroom serve` was last started on (for `strongroom call`)."""
        return self.path / "served.json"

    @property
    def budget_state_path(self) -> Path:
        """The embedded deployment's budgets, kept across restarts (budgets/state_file.py)."""
        return self.path / "budgets.db"

    @property
    def analytics_path(self) -> Path:
        """The embedded deployment's analytics release (`strongroom analytics build`)."""
        return self.path / "analytics.db"

    def exists(self) -> bool:
        return self.config_path.is_file()

    def ensure_dirs(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.keys_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.keys_dir, 0o700)
        self.exports_dir.mkdir(mode=0o700, exist_ok=True)

    def default_settings(self) -> Settings:
        # Relative: a copied or restored home uses its own files.
        return Settings(registry_url="sqlite:///registry.db", journal_url="sqlite:///journal.db")

    def write_config(self, settings: Settings) -> None:
        """A new config.toml with every key and what it means."""
        lines = [
            "# Strongroom configuration. Edit and restart the server. Unknown keys are errors.",
            "# SQLite paths and files named here are relative to this folder.",
            "# demo: unbound bearer tokens from `strongroom token issue` work (demos, tests);",
            "# production: the API accepts only DPoP-bound tokens, and `token issue` mints",
            "# them only for a key given (--dpop-jkt or --dpop-key), journaled.",
            f"mode = {_toml(settings.mode)}",
            f"registry_url = {_toml(settings.registry_url)}",
            f"journal_url = {_toml(settings.journal_url)}",
            f"redis_url = {_toml(settings.redis_url or '')}  # empty: budgets in this process",
            f"redis_prefix = {_toml(settings.redis_prefix)}",
            "# with Redis: every worker's detectors see every worker's requests",
            f"share_detection = {_toml(settings.share_detection)}",
            f"trusted_proxies = {_toml(list(settings.trusted_proxies))}",
            f"issuer = {_toml(settings.issuer)}",
            f"audience = {_toml(settings.audience)}",
            "# serving, per worker: requests at once, requests waiting, seconds they may wait",
            f"max_inflight = {settings.max_inflight}",
            f"max_queued = {settings.max_queued}",
            f"queue_wait_seconds = {settings.queue_wait_seconds}",
            "# alerts beyond alerts.jsonl (empty: off)",
            f"alerts_webhook_url = {_toml(settings.alerts_webhook_url or '')}",
            f"alerts_webhook_key_file = {_toml(settings.alerts_webhook_key_file or '')}",
            f"alerts_syslog = {_toml(settings.alerts_syslog or '')}  # host:port",
            "# operations: who may scrape /metrics (CIDRs; empty: nobody), the server's log",
            "# (json or text; the access log names route templates, never paths), and the",
            "# seconds a SIGTERM leaves requests in flight before the journal is closed",
            f"metrics_allow = {_toml(list(settings.metrics_allow))}",
            f"log_format = {_toml(settings.log_format)}",
            f"access_log = {_toml(settings.access_log)}",
            f"shutdown_grace_seconds = {settings.shutdown_grace_seconds}",
            "# the vault's root keys: file (keys/vault.json) or pkcs11 (an HSM; see",
            "# docs/keys.md). The PIN is read from pkcs11_pin_file or from the environment",
            "# variable pkcs11_pin_env names, never written here.",
            f"key_provider = {_toml(settings.key_provider)}",
            f"pkcs11_module = {_toml(settings.pkcs11_module or '')}",
            f"pkcs11_token_label = {_toml(settings.pkcs11_token_label or '')}",
            f"pkcs11_pin_file = {_toml(settings.pkcs11_pin_file or '')}",
            f"pkcs11_pin_env = {_toml(settings.pkcs11_pin_env or '')}",
            '# witnesses that keep our checkpoints, each "<URL> <its verifier key>"',
            "# (`strongroom witness init` prints one); checkpoints go to them every",
            "# witness_interval_seconds, and `journal verify` checks the journal against them",
            f"witnesses = {_toml(list(settings.witnesses))}",
            f"witness_interval_seconds = {settings.witness_interval_seconds}",
            "# an external OpenID Connect issuer whose access tokens (for `audience`) /v1",
            "# accepts as well as ours (empty: off; docs/oauth.md); its roles mapped to ours,",
            '# each "<its role>=<our role>", and the claims (dotted paths) that carry them',
            f"external_issuer = {_toml(settings.external_issuer or '')}",
            f"external_roles = {_toml(list(settings.external_roles))}",
            f"external_role_claim = {_toml(settings.external_role_claim)}",
            f"external_purpose_claim = {_toml(settings.external_purpose_claim)}",
            "# the PostgreSQL passwords, kept out of this file: read from a file (a secret,",
            "# e.g. /run/secrets/pg) or from the environment variable named, at most one of",
            "# the two per database; the URL above then names no password (empty: none)",
            f"registry_password_file = {_toml(settings.registry_password_file or '')}",
            f"registry_password_env = {_toml(settings.registry_password_env or '')}",
            f"journal_password_file = {_toml(settings.journal_password_file or '')}",
            f"journal_password_env = {_toml(settings.journal_password_env or '')}",
            "",
        ]
        self.config_path.write_text("\n".join(lines), encoding="utf-8")

    def update_config(self, **values: object) -> None:
        """Change only the keys given, line by line: comments and every other setting are
        kept as they are."""
        unknown = sorted(set(values) - set(KEYS))
        if unknown:
            raise BadRequest(f"unknown configuration key(s): {', '.join(unknown)}")
        lines = self.config_path.read_text(encoding="utf-8").splitlines()
        for key, value in values.items():
            line = f"{key} = {_toml(value)}"
            at = next((i for i, ln in enumerate(lines) if _key_of(ln) == key), None)
            if at is None:
                lines.append(line)
            else:
                lines[at] = line
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.settings()  # the result must still read

    def settings(self) -> Settings:
        if not self.exists():
            raise BadRequest(
                f"no Strongroom home at {self.path}: run `strongroom init` first "
                "(or set STRONGROOM_HOME)"
            )
        text = self.config_path.read_text(encoding="utf-8")
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BadRequest(f"{self.config_path}: {exc}") from exc
        for key in raw:
            if key not in KEYS:
                near = difflib.get_close_matches(key, KEYS, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(KEYS)})"
                raise BadRequest(
                    f"{self.config_path}:{_line_of(text, key)}: unknown key {key!r}{hint}",
                    reason="invalid_config",
                )
        defaults = self.default_settings()
        settings = Settings(
            registry_url=self._database_url(text, raw, "registry", defaults.registry_url),
            journal_url=self._database_url(text, raw, "journal", defaults.journal_url),
            redis_url=_text(raw, "redis_url") or None,
            trusted_proxies=tuple(str(p) for p in _list(raw, "trusted_proxies")),
            issuer=_text(raw, "issuer") or defaults.issuer,
            audience=_text(raw, "audience") or defaults.audience,
            max_inflight=_number(raw, "max_inflight", defaults.max_inflight, int, 1),
            max_queued=_number(raw, "max_queued", defaults.max_queued, int, 0),
            queue_wait_seconds=_number(
                raw, "queue_wait_seconds", defaults.queue_wait_seconds, float, 0
            ),
            redis_prefix=_text(raw, "redis_prefix") or defaults.redis_prefix,
            share_detection=_flag(raw, "share_detection", defaults.share_detection),
            alerts_webhook_url=_text(raw, "alerts_webhook_url") or None,
            alerts_webhook_key_file=self._file(_text(raw, "alerts_webhook_key_file")),
            alerts_syslog=_text(raw, "alerts_syslog") or None,
            mode=self._mode(text, _text(raw, "mode") or defaults.mode),
            metrics_allow=_networks(raw, "metrics_allow", defaults.metrics_allow),
            log_format=_choice(raw, "log_format", defaults.log_format, LOG_FORMATS),
            access_log=_flag(raw, "access_log", defaults.access_log),
            shutdown_grace_seconds=_number(
                raw, "shutdown_grace_seconds", defaults.shutdown_grace_seconds, int, 1
            ),
            key_provider=_choice(raw, "key_provider", defaults.key_provider, KEY_PROVIDERS),
            pkcs11_module=_text(raw, "pkcs11_module") or None,
            pkcs11_token_label=_text(raw, "pkcs11_token_label") or None,
            pkcs11_pin_file=self._file(_text(raw, "pkcs11_pin_file")),
            pkcs11_pin_env=_text(raw, "pkcs11_pin_env") or None,
            witnesses=self._witnesses(text, raw),
            witness_interval_seconds=_number(
                raw, "witness_interval_seconds", defaults.witness_interval_seconds, int, 1
            ),
            external_issuer=_text(raw, "external_issuer") or None,
            external_roles=_role_pairs(raw, "external_roles"),
            external_role_claim=_text(raw, "external_role_claim") or defaults.external_role_claim,
            external_purpose_claim=(
                _text(raw, "external_purpose_claim") or defaults.external_purpose_claim
            ),
            registry_password_file=self._file(_text(raw, "registry_password_file")),
            registry_password_env=_text(raw, "registry_password_env") or None,
            journal_password_file=self._file(_text(raw, "journal_password_file")),
            journal_password_env=_text(raw, "journal_password_env") or None,
        )
        check_key_provider(settings)
        check_external_issuer(settings)
        return settings

    def _witnesses(self, text: str, raw: dict[str, object]) -> tuple[str, ...]:
        from strongroom.journal.witness import WitnessSpec

        out: list[str] = []
        for i, item in enumerate(_list(raw, "witnesses")):
            try:
                if not isinstance(item, str):
                    raise ValueError("want a string")
                spec = WitnessSpec.parse(item)
            except ValueError as exc:
                raise BadRequest(
                    f"{self.config_path}:{_line_of(text, 'witnesses')}: witnesses[{i}]: {exc}",
                    reason="invalid_config",
                ) from exc
            # A witness is known by its URL and by its key's name (metrics, messages).
            seen = [WitnessSpec.parse(o) for o in out]
            twice = next((spec.url for o in seen if o.url == spec.url), None) or next(
                (spec.name for o in seen if o.name == spec.name), None
            )
            if twice is not None:
                raise BadRequest(
                    f"{self.config_path}:{_line_of(text, 'witnesses')}: witnesses[{i}]: "
                    f"{twice} is named twice",
                    reason="invalid_config",
                )
            out.append(item.strip())
        return tuple(out)

    def _database_url(self, text: str, raw: dict[str, object], db: str, default: str) -> str:
        """`<db>_url` with the password `<db>_password_file` or `_env` names set into it
        (SQLAlchemy's URL.set: any character works, none is spliced into the text)."""
        key = f"{db}_url"
        url = self._url(_text(raw, key) or default)
        file = self._file(_text(raw, f"{db}_password_file"))
        env = _text(raw, f"{db}_password_env") or None
        if file is None and env is None:
            return url
        line = _line_of(text, f"{db}_password_file" if file else f"{db}_password_env")
        where = f"{self.config_path}:{line}"
        parsed = check_password_source(url, key, file, env, where=where)
        try:
            password = read_secret("the password", file, env)
        except SecretUnreadable as exc:
            raise BadRequest(f"{where}: {exc}", reason="invalid_config") from None
        return parsed.set(password=password).render_as_string(hide_password=False)

    def _mode(self, text: str, mode: str) -> str:
        if mode not in MODES:
            raise BadRequest(
                f"{self.config_path}:{_line_of(text, 'mode')}: mode must be one of "
                f"{', '.join(MODES)}, not {mode!r}",
                reason="invalid_config",
            )
        return mode

    def _url(self, url: str) -> str:
        """A SQLite URL with a relative path names a file in this home."""
        if url.startswith(RELATIVE_SQLITE) and url != RELATIVE_SQLITE + ":memory:":
            path = url[len(RELATIVE_SQLITE) :]
            if path and not path.startswith("/"):
                return RELATIVE_SQLITE + str(self.path / path)
        return url

    def _file(self, name: str) -> str | None:
        if not name:
            return None
        return str(self.path / name) if not os.path.isabs(name) else name


def check_password_source(
    url: str, key: str, file: str | None, env: str | None, *, where: str = "config.toml"
) -> URL:
    """`url` parsed, when its password may come from `file` or `env`: a database that has
    passwords, no password already in the URL (one place for it), not both sources."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    db = key.removesuffix("_url")
    if file and env:
        raise BadRequest(
            f"{where}: {db}_password_file and {db}_password_env both name the {db} "
            "database's password: keep one",
            reason="invalid_config",
        )
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadRequest(f"{where}: {key} is not a database URL", reason="invalid_config") from None
    if parsed.get_backend_name() == "sqlite":
        raise BadRequest(
            f"{where}: {key} is a SQLite file, which has no password: remove "
            f"{db}_password_file and {db}_password_env",
            reason="invalid_config",
        )
    if parsed.password is not None:
        raise BadRequest(
            f"{where}: {key} holds a password, and {db}_password_"
            f"{'file' if file else 'env'} names where it is: remove it from the URL "
            f"({parsed.render_as_string(hide_password=True)})",
            reason="invalid_config",
        )
    return parsed


class SecretUnreadable(Exception):
    """A secret's file or environment variable did not give it; the message says why."""


def read_secret(
    what: str, file: str | None, env: str | None, *, private: bool = False, strip: bool = False
) -> str:
    """`what` ("the password", "the HSM PIN") from the environment variable `env`, or else
    from `file`, its trailing line break dropped (a secret written by `echo` has one).
    `private`: the file must be itself, not a link, and readable by its owner alone.
    `strip`: surrounding whitespace is dropped from the file's text too."""
    if env:
        secret = os.environ.get(env, "")
        if not secret:
            raise SecretUnreadable(f"{what} is read from ${env}, which is not set")
        return secret
    path = file or ""
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_NOFOLLOW if private else 0))
        with os.fdopen(fd, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if private and mode & 0o077:
                raise SecretUnreadable(
                    f"{what} file {path} is accessible by group or others "
                    f"(mode {stat.S_IMODE(mode):04o}): run `chmod 600` on it"
                )
            text = fh.read().decode("utf-8")
    except OSError as exc:
        raise SecretUnreadable(f"cannot read {what} file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretUnreadable(f"cannot read {what} file {path}: not UTF-8 text") from None
    secret = text.strip() if strip else text.rstrip("\r\n")
    if not secret:
        raise SecretUnreadable(f"{what} file {path} is empty")
    return secret


def check_key_provider(settings: Settings) -> None:
    """A pkcs11 provider names its module, its token and where its PIN is (one place)."""
    if settings.key_provider not in KEY_PROVIDERS:
        raise BadRequest(
            f"key_provider must be one of {', '.join(KEY_PROVIDERS)}, "
            f"not {settings.key_provider!r}",
            reason="invalid_config",
        )
    if settings.key_provider != "pkcs11":
        return
    missing = [key for key in ("pkcs11_module", "pkcs11_token_label") if not getattr(settings, key)]
    if missing:
        raise BadRequest(
            f'config.toml: key_provider = "pkcs11" needs {" and ".join(missing)}',
            reason="invalid_config",
        )
    if bool(settings.pkcs11_pin_file) == bool(settings.pkcs11_pin_env):
        raise BadRequest(
            'config.toml: key_provider = "pkcs11" needs exactly one of pkcs11_pin_file and '
            "pkcs11_pin_env (the PIN itself is never written in config.toml)",
            reason="invalid_config",
        )


def check_external_issuer(settings: Settings) -> None:
    """An external issuer's tokens name a role of ours only through `external_roles`: with
    none, every token would be refused."""
    if settings.external_issuer and not settings.external_roles:
        raise BadRequest(
            "config.toml: external_issuer needs external_roles "
            '(e.g. ["gendarme=police"]): a token mapped to no role of ours is refused',
            reason="invalid_config",
        )


def external_role_map(settings: Settings) -> dict[str, str]:
    """`external_roles` as {their role: our role}."""
    return dict(pair.split("=", 1) for pair in settings.external_roles)


def _role_pairs(raw: dict[str, object], key: str) -> tuple[str, ...]:
    out = []
    for item in _list(raw, key):
        theirs, eq, ours = str(item).partition("=")
        if not (isinstance(item, str) and eq and theirs.strip() and ours.strip()):
            raise BadRequest(
                f'config.toml: {key}: {item!r} is not "<their role>=<our role>"',
                reason="invalid_config",
            )
        out.append(f"{theirs.strip()}={ours.strip()}")
    return tuple(out)


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _key_of(line: str) -> str | None:
    key, eq, _ = line.partition("=")
    key = key.strip()
    return key if eq and key and not key.startswith("#") else None


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if _key_of(line) == key or _key_of(line) == f'"{key}"':
            return i
    return 1


def _text(raw: dict[str, object], key: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise BadRequest(f"config.toml: {key} must be a string", reason="invalid_config")
    return value


def _list(raw: dict[str, object], key: str) -> list[object]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise BadRequest(f"config.toml: {key} must be a list", reason="invalid_config")
    return value


def _networks(raw: dict[str, object], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if key not in raw:
        return default
    out = []
    for item in _list(raw, key):
        try:
            out.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
        except ValueError as exc:
            raise BadRequest(
                f"config.toml: {key}: {item!r} is not a network (CIDR)", reason="invalid_config"
            ) from exc
    return tuple(out)


def _choice(raw: dict[str, object], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _text(raw, key) or default
    if value not in allowed:
        raise BadRequest(
            f"config.toml: {key} must be one of {', '.join(allowed)}", reason="invalid_config"
        )
    return value


def _flag(raw: dict[str, object], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"config.toml: {key} must be true or false", reason="invalid_config")
    return value


def _number(raw: dict[str, object], key: str, default: _N, kind: type[_N], least: _N) -> _N:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
        raise BadRequest(
            f"config.toml: {key} must be a number of at least {least}", reason="invalid_config"
        )
    if kind is int and not isinstance(value, int):
        raise BadRequest(f"config.toml: {key} must be a whole number", reason="invalid_config")
    return kind(value)
