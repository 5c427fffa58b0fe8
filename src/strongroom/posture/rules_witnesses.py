"""Audit rules about who else holds the journal's checkpoints (a deployment's config.toml)."""

from __future__ import annotations

from collections.abc import Iterator

from strongroom.posture.findings import BaseRule, Finding, Severity
from strongroom.posture.inputs import AuditInput


class JournalUnwitnessed(BaseRule):
    id = "SR023"
    name = "journal-unwitnessed"
    title = "Production deployment whose journal checkpoints no witness holds"
    severity = Severity.HIGH
    help = (
        'Name at least one witness in config.toml (`witnesses = ["<URL> <its key>"]`; '
        "`strongroom witness init` on another machine, under another operator, prints the "
        "key): with the checkpoints only in the journal's own database, whoever can write "
        "that database can delete or roll them back and `journal verify` cannot tell."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        conf = audit.config
        if conf is None or conf.get("mode") != "production":
            return
        if not conf.get("witnesses"):
            yield self.finding(
                "mode is production and no witness holds the journal's checkpoints "
                "(witnesses is empty)",
                audit.config_at("witnesses" if "witnesses" in conf else "mode"),
            )
