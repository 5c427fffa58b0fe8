"""Audit rules about where a deployment keeps its keys and secrets (its config.toml): the
vault's root keys, the database passwords."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from strongroom.posture.findings import BaseRule, Finding, Severity
from strongroom.posture.inputs import AuditInput


class VaultKeysInFiles(BaseRule):
    id = "SR022"
    name = "vault-keys-in-files"
    title = "Production deployment with its vault keys in files beside the data"
    severity = Severity.CRITICAL
    help = (
        'Set `key_provider = "pkcs11"` with the HSM\'s module and token label, and the PIN in '
        "a file outside the home (mode 0600) or in an environment variable (docs/keys.md): "
        "with `keys/vault.json` beside the databases, a copy of the server is the whole "
        "registry in clear. Then re-encrypt: data keys wrapped by the file's KEKs stay "
        "readable by whoever copied that file."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        conf = audit.config
        if conf is None or conf.get("mode") != "production":
            return
        provider = conf.get("key_provider") or "file"
        if provider == "file":
            yield self.finding(
                "mode is production and the vault's keys are in keys/vault.json "
                '(key_provider = "file")',
                audit.config_at("key_provider" if "key_provider" in conf else "mode"),
            )
            return
        pin_file = conf.get("pkcs11_pin_file")
        if isinstance(pin_file, str) and pin_file and audit.config_uri:
            home = Path(audit.config_uri).resolve().parent
            path = (home / pin_file).resolve()
            if path == home or home in path.parents:
                yield self.finding(
                    f"the HSM's PIN file {pin_file!r} is inside the home: a copy of the home "
                    "carries the PIN with it",
                    audit.config_at("pkcs11_pin_file"),
                    severity=Severity.HIGH,
                )


class DatabasePasswordInConfig(BaseRule):
    id = "SR024"
    name = "database-password-in-config"
    title = "A database password written inside config.toml"
    severity = Severity.HIGH
    help = (
        "Remove the password from the URL and name where it is kept instead: "
        "`registry_password_file` / `journal_password_file` (a file outside the home, such "
        "as a Compose or Kubernetes secret) or `registry_password_env` / "
        "`journal_password_env`, README's PostgreSQL section: config.toml is copied into every "
        "node's home, its backups and the shared volume."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        conf = audit.config
        if conf is None:
            return
        for key in ("registry_url", "journal_url"):
            raw = conf.get(key)
            if not isinstance(raw, str):
                continue
            try:
                password = make_url(raw).password
            except ArgumentError:
                continue  # not a URL: the config's own parser names that error
            if password:
                # The finding names the key and line, never the password.
                yield self.finding(
                    f"{key} holds the database password in config.toml", audit.config_at(key)
                )
