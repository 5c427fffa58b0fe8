"""The role x purpose x field matrix of a policy: who sees which field, how. Pure data and
a Markdown rendering (docs/policy-matrix.md is generated from the shipped default); the
CLI draws the same rows as a rich table."""

from __future__ import annotations

from strongroom.policy import resolve
from strongroom.policy.model import Policy

DENY_CELL = "·"
REGENERATE = (
    "strongroom policy matrix src/strongroom/policy/default_policy.yaml "
    "--markdown --output docs/policy-matrix.md"
)


def columns(policy: Policy) -> list[tuple[str, str]]:
    return resolve.pairs(policy)


def rows(policy: Policy) -> list[tuple[str, list[str]]]:
    """One row per field: the effective action for each (role, purpose) column."""
    views = [resolve.actions(policy, role, purpose) for role, purpose in columns(policy)]
    return [
        (name, [v[name] if v[name] != "deny" else DENY_CELL for v in views])
        for name in policy.field_names()
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def purpose_rows(policy: Policy) -> list[list[str]]:
    out = []
    for name, spec in policy.purposes.items():
        roles = [r for r, rs in policy.roles.items() if name in rs.purposes]
        j = spec.justification
        bg = spec.break_glass
        out.append(
            [
                name,
                ", ".join(roles),
                f"≥ {j.min_length} chars" if j.required else "no",
                "yes" if spec.case_required else "no",
                "yes" if spec.step_up or bg is not None else "no",
                (f"{bg.duration_seconds} s, scope {bg.object_scope}, notify {', '.join(bg.notify)}")
                if bg
                else "no",
            ]
        )
    return out


def render_markdown(policy: Policy, source: str) -> str:
    cols = columns(policy)
    lines = [
        "# Policy matrix",
        "",
        f"Generated from `{source}`; do not edit by hand. Regenerate with:",
        "",
        "```",
        REGENERATE,
        "```",
        "",
        "Each cell is what a caller with that role, declaring that purpose, gets for the "
        f"field: `reveal`, `partial`, `generalize`, `pseudonym`, or `{DENY_CELL}` (denied: "
        "removed from the output and never decrypted).",
        "",
        "## Fields",
        "",
        "| field | weight | " + " | ".join(f"{r}<br>{p}" for r, p in cols) + " |",
        "|---|---:|" + "---|" * len(cols),
    ]
    for name, cells in rows(policy):
        weight = policy.field_spec(name).weight
        lines.append(f"| `{name}` | {weight} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Purposes",
        "",
        "| purpose | roles | justification | case | step-up | break-glass |",
        "|---|---|---|---|---|---|",
    ]
    for row in purpose_rows(policy):
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    lines += [
        "",
        "## Roles",
        "",
        "| role | staff | MFA | object scope | token lifetime (s) | step-up max age (s) | scopes |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for name, r in policy.roles.items():
        lines.append(
            f"| {name} | {'yes' if r.staff else 'no'} | {'yes' if r.mfa_required else 'no'} "
            f"| {r.object_scope} | {r.token_lifetime_seconds} | {r.step_up_max_age_seconds} "
            f"| {', '.join(f'`{s}`' for s in r.scopes)} |"
        )
    return "\n".join(lines) + "\n"
