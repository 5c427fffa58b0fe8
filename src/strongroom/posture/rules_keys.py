"""Audit rules about where a deployment keeps the vault's root keys (its config.toml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
