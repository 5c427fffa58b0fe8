"""docs/architecture.md's module map names exactly the package's modules and packages."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "strongroom"
DOC = ROOT / "docs" / "architecture.md"


def package_layout() -> set[str]:
    names = {p.name + "/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    names |= {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    return names


def mapped() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Module map", 1)[1]
    return set(re.findall(r"^- `([a-z_]+(?:/|\.py))`", section, flags=re.M))


def test_module_map_matches_the_package() -> None:
    layout, doc = package_layout(), mapped()
    assert layout - doc == set(), f"missing from docs/architecture.md: {sorted(layout - doc)}"
    assert doc - layout == set(), f"in docs/architecture.md, not in src: {sorted(doc - layout)}"


def test_every_module_path_in_the_request_path_exists() -> None:
    text = DOC.read_text(encoding="utf-8").split("## Module map", 1)[0]
    for path in set(re.findall(r"(?<![/\w])([a-z_]+/[a-z_]+\.py)\b", text)) - {
        "tests/test_architecture_doc.py"
    }:
        assert (PACKAGE / path).is_file(), f"docs/architecture.md names {path}, which is gone"
