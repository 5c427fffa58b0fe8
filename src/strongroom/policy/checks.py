"""Cross-reference checks on a shape-valid policy. Every finding is a located `Problem`;
all are collected so one run lists everything wrong with a file.

What is checked, beyond the shape: names refer to declared roles, purposes, fields and
endpoints; every purpose is usable by some role; a role's default purpose is one it may
declare; staff roles require MFA; break-glass purposes demand justification and step-up;
no rule shows a field (reveal, partial, generalize or pseudonym) its purpose does not
declare it needs; no endpoint lets a caller filter or sort on a field it sees masked
(masking that can be queried around is no mask); exports stay within their purpose's need;
analytics views count their population by dimensions it has, with every quasi-identifier's
generalization declared.
"""

from __future__ import annotations

import re
from typing import cast

from strongroom.policy import resolve
from strongroom.policy.model import (
    ANALYTICS_QUASI_IDENTIFIERS,
    ANALYTICS_UNIVERSES,
    FIELD_PATTERN,
    NAME,
    Policy,
    ResponseName,
)
from strongroom.policy.problems import Problem
from strongroom.policy.yaml_source import Path, Source

LADDER = ("alert", "throttle", "step_up", "suspend_session", "suspend_principal")


class _Checker:
    def __init__(self, policy: Policy, src: Source) -> None:
        self.p = policy
        self.src = src
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str, *, key: bool = False) -> None:
        self.problems.append(self.src.problem(path, message, key=key))

    def role(self, name: str, path: Path, *, key: bool = False) -> bool:
        if name not in self.p.roles:
            self.add(path, f"unknown role {name!r}", key=key)
            return False
        return True

    def purpose(self, name: str, path: Path, *, key: bool = False) -> bool:
        if name not in self.p.purposes:
            self.add(path, f"unknown purpose {name!r}", key=key)
            return False
        return True

    def field(self, pattern: str, path: Path, *, key: bool = False) -> list[str]:
        if not re.match(FIELD_PATTERN, pattern):
            self.add(
                path, f"bad field name {pattern!r} (want category.name or category.*)", key=key
            )
            return []
        names = resolve.expand(self.p, pattern)
        if not names:
            self.add(path, f"unknown field {pattern!r}", key=key)
        return names

    def run(self) -> list[Problem]:
        self.fields()
        self.roles()
        self.purposes()
        self.rules()
        self.endpoints()
        self.budgets()
        self.exports()
        self.responses()
        self.analytics()
        return self.problems

    def fields(self) -> None:
        for cat, names in self.p.fields.items():
            if not re.match(NAME, cat):
                self.add(("fields", cat), f"bad field category name {cat!r}", key=True)
            for name in names:
                if not re.match(NAME, name):
                    self.add(("fields", cat, name), f"bad field name {name!r}", key=True)
        for i, link in enumerate(self.p.links):
            for j, cat in enumerate(link.categories):
                if cat not in self.p.fields:
                    self.add(("links", i, "categories", j), f"unknown field category {cat!r}")

    def roles(self) -> None:
        for name, spec in self.p.roles.items():
            base = ("roles", name)
            if not re.match(NAME, name):
                self.add(base, f"bad role name {name!r}", key=True)
            for i, purpose in enumerate(spec.purposes):
                self.purpose(purpose, (*base, "purposes", i))
            if spec.default_purpose is not None and spec.default_purpose not in spec.purposes:
                self.add(
                    (*base, "default_purpose"),
                    f"default_purpose {spec.default_purpose!r} is not in the purposes "
                    f"role {name!r} may declare",
                )
            if spec.staff and not spec.mfa_required:
                self.add((*base, "mfa_required"), f"staff role {name!r} must require MFA")

    def purposes(self) -> None:
        usable = {p for spec in self.p.roles.values() for p in spec.purposes}
        for name, spec in self.p.purposes.items():
            base = ("purposes", name)
            if not re.match(NAME, name):
                self.add(base, f"bad purpose name {name!r}", key=True)
            if name not in usable:
                self.add(base, f"purpose {name!r} is not usable by any role", key=True)
            for i, pattern in enumerate(spec.needs):
                self.field(pattern, (*base, "needs", i))
            if spec.justification.required and spec.justification.min_length < 1:
                self.add(
                    (*base, "justification", "min_length"),
                    "a required justification needs min_length >= 1",
                )
            if spec.break_glass is not None:
                bg = spec.break_glass
                if not (spec.justification.required and spec.step_up):
                    self.add(
                        (*base, "break_glass"),
                        "a break-glass purpose must require justification and step_up",
                    )
                for i, role in enumerate(bg.notify):
                    self.role(role, (*base, "break_glass", "notify", i))

    def rules(self) -> None:
        for role, by_purpose in self.p.rules.items():
            if not self.role(role, ("rules", role), key=True):
                continue
            for purpose, by_field in by_purpose.items():
                base = ("rules", role, purpose)
                if not self.purpose(purpose, base, key=True):
                    continue
                if purpose not in self.p.roles[role].purposes:
                    self.add(base, f"role {role!r} may not declare purpose {purpose!r}", key=True)
                need = resolve.needs(self.p, purpose)
                for pattern, action in by_field.items():
                    names = self.field(pattern, (*base, pattern), key=True)
                    if action == "deny":
                        continue
                    shown = [
                        n
                        for n in names
                        if not (
                            action == "generalize" and self.p.field_spec(n).generalize == "drop"
                        )
                    ]
                    beyond = sorted(set(shown) - need)
                    if beyond:
                        self.add(
                            (*base, pattern),
                            f"rule {action} on {pattern!r} shows {', '.join(beyond)} "
                            f"beyond what purpose {purpose!r} declares it needs",
                        )
                    if (
                        action == "generalize"
                        and not pattern.endswith(".*")
                        and names
                        and not shown
                    ):
                        self.add(
                            (*base, pattern),
                            f"{pattern!r} has no generalization (generalize: drop); write deny",
                        )

    def endpoints(self) -> None:
        for eid, spec in self.p.endpoints.items():
            base = ("endpoints", eid)
            if not re.match(r"^(GET|POST|PUT|PATCH|DELETE) /\S*$", eid):
                self.add(base, f"bad endpoint id {eid!r} (want 'METHOD /path')", key=True)
            for i, role in enumerate(spec.roles):
                if not self.role(role, (*base, "roles", i)):
                    continue
                rspec = self.p.roles[role]
                if spec.scope not in rspec.scopes:
                    self.add(
                        (*base, "roles", i),
                        f"role {role!r} lacks scope {spec.scope!r} for this endpoint",
                    )
                if spec.purposes is not None and not set(spec.purposes) & set(rspec.purposes):
                    self.add(
                        (*base, "roles", i),
                        f"role {role!r} may declare none of this endpoint's purposes",
                    )
            for i, purpose in enumerate(spec.purposes or []):
                if self.purpose(purpose, (*base, "purposes", i)) and not any(
                    purpose in self.p.roles[r].purposes for r in spec.roles if r in self.p.roles
                ):
                    self.add(
                        (*base, "purposes", i),
                        f"no role of this endpoint may declare purpose {purpose!r}",
                    )
            for i, alt in enumerate(spec.min_specificity):
                if not alt:
                    self.add((*base, "min_specificity", i), "an empty alternative")
                for j, name in enumerate(alt):
                    self.field(name, (*base, "min_specificity", i, j))
            callers = resolve.callers(self.p, eid)
            views = {c: resolve.actions(self.p, *c) for c in callers}
            for kind in ("filterable", "sortable"):
                for i, name in enumerate(getattr(spec, kind)):
                    if not self.field(name, (*base, kind, i)):
                        continue
                    masked = [
                        f"{r}/{p} ({v[name]})" for (r, p), v in views.items() if v[name] != "reveal"
                    ]
                    if masked:
                        self.add(
                            (*base, kind, i),
                            f"{kind} field {name!r} is masked for {', '.join(masked)}",
                        )

    def budgets(self) -> None:
        seen: set[str] = set()
        for i, spec in enumerate(self.p.budgets):
            base = ("budgets", i)
            if spec.name in seen:
                self.add((*base, "name"), f"duplicate budget name {spec.name!r}")
            seen.add(spec.name)
            for j, role in enumerate(spec.roles or []):
                self.role(role, (*base, "roles", j))
            for j, eid in enumerate(spec.endpoints or []):
                if eid not in self.p.endpoints:
                    self.add((*base, "endpoints", j), f"unknown endpoint {eid!r}")

    def exports(self) -> None:
        ex = self.p.exports
        for kind, scope in (
            ("requester_roles", "exports:request"),
            ("approver_roles", "exports:approve"),
        ):
            for i, role in enumerate(getattr(ex, kind)):
                if self.role(role, ("exports", kind, i)) and scope not in self.p.roles[role].scopes:
                    self.add(("exports", kind, i), f"role {role!r} lacks scope {scope!r}")
        if ex.datasets and not ex.approver_roles:
            self.add(("exports", "datasets"), "datasets need at least one approver role", key=True)
        for name, ds in ex.datasets.items():
            for purpose, fields in ds.purposes.items():
                base = ("exports", "datasets", name, "purposes", purpose)
                if not self.purpose(purpose, base, key=True):
                    continue
                if not any(
                    purpose in self.p.roles[r].purposes
                    for r in ex.requester_roles
                    if r in self.p.roles
                ):
                    self.add(base, f"no requester role may declare purpose {purpose!r}", key=True)
                need = resolve.needs(self.p, purpose)
                for j, f in enumerate(fields):
                    if self.field(f, (*base, j)) and f not in need:
                        self.add((*base, j), f"export field {f!r} is beyond what {purpose!r} needs")

    def responses(self) -> None:
        last: tuple[str, float] | None = None
        for name in LADDER:
            spec = self.p.responses.get(cast(ResponseName, name))
            if spec is None:
                continue
            if last is not None and spec.threshold < last[1]:
                self.add(
                    ("responses", name, "threshold"),
                    f"{name} threshold {spec.threshold} is below {last[0]}'s "
                    f"{last[1]}: the ladder must climb",
                )
            last = (name, spec.threshold)

    def analytics(self) -> None:
        an = self.p.analytics
        for qi, spec in an.quasi_identifiers.items():
            base: Path = ("analytics", "quasi_identifiers", qi)
            allowed = ANALYTICS_QUASI_IDENTIFIERS[qi]
            if spec.generalize not in allowed:
                self.add(
                    (*base, "generalize"),
                    f"{qi} generalizes to {' or '.join(allowed)}, not {spec.generalize!r}",
                )
        if 0 < an.refresh_seconds < MIN_REFRESH_SECONDS:
            self.add(
                ("analytics", "refresh_seconds"),
                f"refresh_seconds is 0 (off) or at least {MIN_REFRESH_SECONDS}",
            )
        for name, view in an.views.items():
            base = ("analytics", "views", name)
            if not re.match(NAME, name) or name in RESERVED_VIEW_NAMES:
                self.add(base, f"bad view name {name!r}", key=True)
            known = ANALYTICS_UNIVERSES[view.universe]
            if len(set(view.dims)) != len(view.dims):
                self.add((*base, "dims"), "a dimension is named twice")
            if view.kind == "counts" and len(view.dims) > MAX_COUNT_DIMS:
                self.add(
                    (*base, "dims"),
                    f"a count view has at most {MAX_COUNT_DIMS} dimensions (it publishes "
                    "every margin)",
                )
            if view.kind == "rows" and view.universe != "persons":
                self.add(
                    (*base, "universe"),
                    "row views are of persons: one row per person (rows of permits, weapons "
                    "or sales would link a person's rows into a record of its own)",
                )
            for i, dim in enumerate(view.dims):
                if dim not in known:
                    self.add(
                        (*base, "dims", i),
                        f"{view.universe} are not counted by {dim!r} (known: {', '.join(known)})",
                    )
                elif dim in ANALYTICS_QUASI_IDENTIFIERS and dim not in an.quasi_identifiers:
                    self.add(
                        (*base, "dims", i),
                        f"{dim!r} is a quasi-identifier: declare its generalization under "
                        "analytics.quasi_identifiers",
                    )


MIN_REFRESH_SECONDS = 300
MAX_COUNT_DIMS = 3
RESERVED_VIEW_NAMES = frozenset({"release_info"})


def check(policy: Policy, src: Source) -> list[Problem]:
    return _Checker(policy, src).run()
