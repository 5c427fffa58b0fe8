"""Audit rules about endpoints: what an extractor can pull through each route, read from
the policy (budgets, page sizes, search specificity) and the OpenAPI document (parameters,
path IDs, routes the policy does not govern)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from strongroom.posture import policy_facts as facts
from strongroom.posture import vocabulary as vocab
from strongroom.posture.findings import BaseRule, Finding, Severity
from strongroom.posture.inputs import AuditInput
from strongroom.posture.openapi_doc import operations, route_key, schema_types, schema_value

PAGE_CAP = 50


class RecordBudgetMissing(BaseRule):
    id = "SR001"
    name = "record-budget-missing"
    title = "Endpoint returns records without a per-account record budget"
    help = (
        "Add an enforced budget with unit `records` or `subjects`, keyed on principal "
        "(or session, client, organisation), whose roles/endpoints cover this call; "
        "request-rate limits alone let a patient extractor take everything."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is None:
            return
        for eid in policy.endpoints:
            for role in facts.record_roles(policy, eid):
                if not facts.record_budgets(policy, role, eid):
                    yield self.finding(
                        f"{eid}: role {role!r} receives registry records here but no enforced "
                        "per-account budget on records or subjects covers it",
                        audit.policy_at(("endpoints", eid), key=True),
                    )


class PageSizeUncapped(BaseRule):
    id = "SR002"
    name = "page-size-uncapped"
    title = "List or search endpoint without a small page-size cap"
    help = (
        f"Cap `page_size` at {PAGE_CAP} or less for endpoints that return records, and "
        "give every page-size query parameter a `maximum` no larger than that cap."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        pages: dict[str, int | None] = {}  # governed routes: their cap, None if no records
        if policy is not None:
            for eid, spec in policy.endpoints.items():
                records = bool(facts.record_roles(policy, eid))
                pages[route_key(*eid.split(" ", 1))] = spec.page_size if records else None
                if spec.page_size > PAGE_CAP and records:
                    yield self.finding(
                        f"{eid}: page_size {spec.page_size} lets one request return more "
                        f"than {PAGE_CAP} records",
                        audit.policy_at(("endpoints", eid, "page_size")),
                    )
        for op in operations(audit.openapi):
            for p in op.parameters:
                if p.where != "query" or vocab.norm(p.name) not in vocab.PAGE_PARAMS:
                    continue
                maximum = schema_value(audit.openapi, p.schema, "maximum")
                if op.key in pages and pages[op.key] is None:
                    continue  # governed, and returns no registry records
                governed = pages.get(op.key)
                if governed is not None:
                    if maximum is None or maximum > governed:
                        yield self.finding(
                            f"{op.label}: query parameter {p.name!r} advertises "
                            f"{'no maximum' if maximum is None else f'maximum {maximum}'} "
                            f"though the policy caps pages at {governed}",
                            audit.openapi_at(p.at),
                            severity=Severity.LOW,
                            fix="Document the policy's cap as the parameter's maximum.",
                        )
                elif maximum is None or maximum > PAGE_CAP:
                    yield self.finding(
                        f"{op.label}: query parameter {p.name!r} has "
                        f"{'no maximum' if maximum is None else f'maximum {maximum}'} and no "
                        "policy endpoint caps the page",
                        audit.openapi_at(p.at),
                    )


class PiiFilter(BaseRule):
    id = "SR003"
    name = "pii-filter"
    title = "List or search endpoint filters on PII or free text"
    help = (
        "Do not take names, birth dates or addresses as query parameters (they end up in "
        "access logs and enable sweeps) or as free-text filters; search by exact match "
        "in a POST body, with the specificity the policy requires."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        for op in operations(audit.openapi):
            for p in op.parameters:
                if p.where != "query":
                    continue
                name = vocab.norm(p.name)
                if vocab.is_pii(name) or name in vocab.FREE_TEXT:
                    kind = "free-text" if name in vocab.FREE_TEXT else "PII"
                    yield self.finding(
                        f"{op.label}: {kind} query parameter {p.name!r}", audit.openapi_at(p.at)
                    )
        policy = audit.policy
        if policy is None:
            return
        for eid, spec in policy.endpoints.items():
            for kind in ("filterable", "sortable"):
                for i, field in enumerate(getattr(spec, kind)):
                    if vocab.is_pii(field):
                        yield self.finding(
                            f"{eid}: {kind} on PII field {field!r} turns the list into a directory",
                            audit.policy_at(("endpoints", eid, kind, i)),
                            severity=Severity.MEDIUM,
                        )


class SearchUnspecific(BaseRule):
    id = "SR004"
    name = "search-unspecific"
    title = "Search endpoint without enough required specificity"
    help = (
        "Give every search endpoint `min_specificity` alternatives that single out a "
        "person (e.g. family name AND birth date, or a permit number); one coarse "
        "attribute alone (a postcode, a family name) is a sweep."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is None:
            return
        for eid, spec in policy.endpoints.items():
            searchy = (
                "search" in eid
                or bool(spec.filterable)
                or (eid.startswith("GET ") and spec.page_size > 1 and "{" not in eid)
            )
            if not searchy or not facts.record_roles(policy, eid):
                continue
            if "search" in eid and not spec.min_specificity:
                yield self.finding(
                    f"{eid}: a search with no min_specificity",
                    audit.policy_at(("endpoints", eid), key=True),
                )
            for i, alt in enumerate(spec.min_specificity):
                if len(alt) < 2 and all(vocab.leaf(f) in vocab.COARSE for f in alt):
                    yield self.finding(
                        f"{eid}: alternative {alt} alone matches many people",
                        audit.policy_at(("endpoints", eid, "min_specificity", i)),
                    )


class GuessableId(BaseRule):
    id = "SR005"
    name = "guessable-id"
    title = "Sequential or guessable ID in a path"
    help = (
        "Expose random IDs (UUIDv4, `format: uuid`) in paths, never row numbers; an "
        "integer ID invites enumeration from 1 upwards."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        doc = audit.openapi
        for op in operations(doc):
            for p in op.parameters:
                if p.where != "path":
                    continue
                types = schema_types(doc, p.schema)
                fmt = str(schema_value(doc, p.schema, "format") or "")
                pattern = str(schema_value(doc, p.schema, "pattern") or "")
                idlike = p.name == "id" or p.name.endswith(("_id", "Id"))
                if "integer" in types or (idlike and fmt.startswith("int")):
                    yield self.finding(
                        f"{op.label}: path parameter {p.name!r} is an integer",
                        audit.openapi_at(p.at),
                    )
                elif idlike and re.fullmatch(r"\^?(\[0-9\]|\\d)[+*]\$?", pattern):
                    yield self.finding(
                        f"{op.label}: path parameter {p.name!r} is digits only",
                        audit.openapi_at(p.at),
                        severity=Severity.MEDIUM,
                    )


class EndpointUngoverned(BaseRule):
    id = "SR006"
    name = "endpoint-ungoverned"
    title = "API route that no policy endpoint governs"
    severity = Severity.MEDIUM
    help = (
        "Declare every versioned API route under `endpoints:` in the policy (scope, "
        "roles, page size); a route the policy does not know bypasses its budgets and "
        "masking, or is refused and should not be published."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        if audit.policy is None:
            return
        governed = {route_key(*eid.split(" ", 1)) for eid in audit.policy.endpoints}
        for op in operations(audit.openapi):
            if re.match(r"^/v\d+/", op.path) and op.key not in governed:
                yield self.finding(
                    f"{op.label}: not declared in the policy", audit.openapi_at(op.at)
                )
