"""Reading an OpenAPI 3.x document the way the audit needs it: operations with their
parameters (path-level ones merged, local `$ref`s resolved), the property names a response
schema can carry, and the link between an operation and the policy endpoint that governs it
(`GET /v1/persons/{person_id}` is governed by `GET /v1/persons/{id}`: parameter names are
not part of the match)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from strongroom.policy.yaml_source import Path

METHODS = ("get", "put", "post", "delete", "patch")
_TEMPLATE = re.compile(r"\{[^}]*\}")


def route_key(method: str, path: str) -> str:
    """`METHOD /path` with every template parameter written `{}`."""
    return f"{method.upper()} {_TEMPLATE.sub('{}', path)}"


def task_of(path: str) -> str:
    """The task an endpoint serves, by its first path segment after a version prefix:
    `/v1/persons/search` and `/v1/persons/{id}` are both `persons`."""
    parts = [p for p in path.split("/") if p]
    if parts and re.fullmatch(r"v\d+", parts[0]):
        parts = parts[1:]
    return parts[0] if parts else "/"


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str  # "path" | "query" | "header" | "cookie"
    schema: dict[str, Any]
    at: Path  # JSON path of the parameter object


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    op: dict[str, Any]
    at: Path
    parameters: tuple[Parameter, ...]

    @property
    def key(self) -> str:
        return route_key(self.method, self.path)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


def resolve(doc: dict[str, Any], obj: Any, depth: int = 0) -> Any:
    """Follow a local `$ref` (`#/components/...`); anything else is returned as is."""
    while isinstance(obj, dict) and isinstance(obj.get("$ref"), str) and depth < 32:
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            return {}
        node: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return {}
            node = node[part]
        obj, depth = node, depth + 1
    return obj


def operations(doc: dict[str, Any]) -> Iterator[Operation]:
    for path, item in (doc.get("paths") or {}).items():
        item = resolve(doc, item)
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params: dict[tuple[str, str], Parameter] = {}
            for base, plist in (
                (("paths", path, "parameters"), shared),
                (("paths", path, method, "parameters"), op.get("parameters") or []),
            ):
                for i, raw in enumerate(plist):
                    p = resolve(doc, raw)
                    if not isinstance(p, dict) or "name" not in p:
                        continue
                    schema = resolve(doc, p.get("schema") or {})
                    params[(str(p["name"]), str(p.get("in")))] = Parameter(
                        str(p["name"]),
                        str(p.get("in")),
                        schema if isinstance(schema, dict) else {},
                        (*base, i),
                    )
            yield Operation(method, path, op, ("paths", path, method), tuple(params.values()))


def schema_types(doc: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The JSON types a parameter schema admits (through anyOf/oneOf, e.g. Optional)."""
    schema = resolve(doc, schema)
    out: set[str] = set()
    t = schema.get("type")
    if isinstance(t, str):
        out.add(t)
    elif isinstance(t, list):
        out.update(x for x in t if isinstance(x, str))
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            out |= schema_types(doc, sub)
    return out - {"null"}


def schema_value(doc: dict[str, Any], schema: dict[str, Any], key: str) -> Any:
    """A keyword (`maximum`, `format`, `pattern`) from the schema or its non-null branch."""
    schema = resolve(doc, schema)
    if key in schema:
        return schema[key]
    for sub in (schema.get("anyOf") or []) + (schema.get("oneOf") or []):
        value = schema_value(doc, sub, key)
        if value is not None:
            return value
    return None


def property_names(doc: dict[str, Any], schema: Any, depth: int = 0) -> set[str]:
    """Every property name a schema can produce, at any depth (items, allOf, nesting)."""
    schema = resolve(doc, schema)
    if not isinstance(schema, dict) or depth > 12:
        return set()
    out: set[str] = set()
    for name, sub in (schema.get("properties") or {}).items():
        out.add(str(name))
        out |= property_names(doc, sub, depth + 1)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out |= property_names(doc, schema[key], depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            out |= property_names(doc, sub, depth + 1)
    return out


def success_schemas(doc: dict[str, Any], op: Operation) -> Iterator[tuple[Path, Any]]:
    """(JSON path, schema) of each 2xx JSON response body."""
    for status, response in (op.op.get("responses") or {}).items():
        if not str(status).startswith("2"):
            continue
        response = resolve(doc, response)
        for media, content in ((response or {}).get("content") or {}).items():
            if "json" in media and isinstance(content, dict) and "schema" in content:
                yield (*op.at, "responses", status, "content", media, "schema"), content["schema"]
