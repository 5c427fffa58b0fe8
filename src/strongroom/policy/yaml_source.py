"""YAML that remembers where each value came from.

PyYAML's composer keeps a start mark on every node; we build plain Python values from the
node tree ourselves and record, for every path (tuple of mapping keys and list indices),
the line and column of the value and of its key. Errors found later (pydantic, cross
references) are located by path. Duplicate keys, which YAML silently overwrites, are an
error here: in a policy file the second `reveal` would win unseen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from strongroom.policy.problems import PolicyError, Problem

Path = tuple[str | int, ...]


@dataclass
class Source:
    """The parsed document plus a path -> (line, column) index (1-based)."""

    file: str
    data: Any
    value_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The closest known location for `path`: the node itself, or its nearest parent
        (a missing field is reported at the mapping that lacks it)."""
        marks = self.key_marks if key else self.value_marks
        p = tuple(path)
        while p:
            if p in marks:
                return marks[p]
            if p in self.value_marks:
                return self.value_marks[p]
            p = p[:-1]
        return self.value_marks.get((), (1, 1))

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, message)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.constructor = yaml.SafeLoader("")  # a constructor for scalars and merge keys
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.src.value_marks[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            self.constructor.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                key = self.constructor.construct_object(knode, deep=True)
                if not isinstance(key, str | int | bool) or key is None:
                    line, col = _pos(knode)
                    self.problems.append(
                        Problem(self.src.file, line, col, "mapping keys must be plain scalars")
                    )
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    line, col = _pos(knode)
                    self.problems.append(
                        Problem(self.src.file, line, col, f"duplicate key {key!r}")
                    )
                    continue
                self.src.key_marks[(*path, key)] = _pos(knode)
                out[key] = self.build(vnode, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)


def parse(text: str, file: str) -> Source:
    """Parse one YAML document; raise PolicyError located at the syntax error."""
    src = Source(file=file, data=None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise PolicyError(
            [Problem(file, line, col, f"invalid YAML: {exc.problem or exc.context}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise PolicyError([Problem(file, 1, 1, f"invalid YAML: {exc}")]) from exc
    if node is None:
        raise PolicyError([Problem(file, 1, 1, "empty policy file")])
    builder = _Builder(src)
    try:
        src.data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:  # e.g. a bad timestamp or merge value
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise PolicyError([Problem(file, line, col, f"invalid YAML: {exc.problem}")]) from exc
    if builder.problems:
        raise PolicyError(builder.problems)
    return src
