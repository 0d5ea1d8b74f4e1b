"""docs/architecture.md stays true: every library module is in its table, every path there exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mentor_match", "db", "synthetic", "embeddings", "index", "ranking", "retrieval", "eval", "service")


def test_the_architecture_table_names_every_library_module_and_only_real_ones():
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"^\|[^|]+\| `([\w/]+\.py)` \|$", text, flags=re.M))
    modules = {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sorted(modules - named) == [], "add these modules to docs/architecture.md"
    assert sorted(named - modules) == [], "these modules in docs/architecture.md do not exist"
