"""The house rules: one-way layers (checked by lint-imports) and light imports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mentor_match", "db", "synthetic", "embeddings", "index", "ranking", "retrieval", "eval", "service")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules_after(statement: str) -> set[str]:
    """Top-level modules loaded by ``statement`` in a fresh interpreter."""
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_the_kernel_loads_no_heavy_library():
    loaded = _modules_after("import mentor_match.errors, mentor_match.artifacts, mentor_match.validation")
    heavy = {"sqlalchemy", "torch", "faiss", "sklearn", "pandas", "numpy"}
    assert not heavy & {name.split(".")[0] for name in loaded}


def test_import_index_loads_neither_the_database_loaders_nor_the_synthetic_world():
    loaded = _modules_after("import index")
    assert "faiss" in loaded  # it did import the index
    assert not {"db.loading", "db.engine", "sqlalchemy", "synthetic", "synthetic.generator", "synthetic.truth"} & loaded
    assert not {"torch", "sentence_transformers"} & loaded  # nor the encoder


def _copy_packages(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.slow
def test_lint_imports_keeps_the_layers_of_this_tree_and_fails_on_a_wrong_arrow(tmp_path):
    tree = _copy_packages(tmp_path)
    kept = _lint(tree)
    assert kept.returncode == 0, kept.stdout[-2000:]

    engine = tree / "db" / "engine.py"
    engine.write_text(engine.read_text() + "\nimport ranking.features  # a wrong arrow\n")
    broken = _lint(tree)
    assert broken.returncode != 0
    assert "db is not allowed to import ranking" in broken.stdout


@pytest.mark.slow
def test_lint_imports_fails_on_two_modules_of_a_package_importing_each_other(tmp_path):
    tree = _copy_packages(tmp_path)
    store = tree / "index" / "store.py"
    store.write_text(store.read_text() + "\nimport index.ann  # ann imports store: a cycle\n")
    broken = _lint(tree)
    assert broken.returncode != 0
    assert "No cycles are allowed in index" in broken.stdout and ".store -> .ann" in broken.stdout
