"""The policy layer's one error: `PolicyError`, a `BadRequest` carrying every `Problem` found
in a policy file, each naming `file:line:column` and what is wrong, so an operator fixes
the file in one pass instead of one error per run."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.errors import BadRequest


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PolicyError(BadRequest):
    slug = "invalid-policy"
    title = "Invalid policy"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        first = str(self.problems[0]) if self.problems else "invalid policy"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first + more, reason="invalid_policy")
