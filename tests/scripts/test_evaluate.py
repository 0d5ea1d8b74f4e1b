"""scripts/evaluate.py end to end, as a user runs it (subprocess)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from db import get_engine
from eval.report import PLOT_FILES, validate_report
from eval.training_run import run_training
from index import build_index_from_db
from synthetic import generate_world, write_world

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "evaluate.py"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def load_script():
    """scripts/evaluate.py as a module, to call main() in-process (no second interpreter)."""
    spec = importlib.util.spec_from_file_location("evaluate_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def indexed_world(tmp_path_factory, encoder) -> tuple[str, Path]:
    """A tiny generated world in SQLite (40 mentors, 120 mentees) and its index."""
    root = tmp_path_factory.mktemp("evaluate_script")
    db_url = f"sqlite:///{root / 'mm.db'}"
    engine = get_engine(db_url)
    try:
        write_world(engine, generate_world(40, 120, 8, seed=11), progress=False)
    finally:
        engine.dispose()
    build_index_from_db(db_url, root / "artifacts", progress=False, encoder=encoder)
    return db_url, root / "artifacts"


@pytest.mark.slow
def test_script_writes_the_report_and_prints_it_as_json(indexed_world, tmp_path, encoder):
    db_url, artifacts = indexed_world
    out = tmp_path / "report"
    result = run_script(
        "--db-url", db_url, "--artifacts", str(artifacts), "--report", str(out),
        "--k", "5", "--pipeline-mentees", "20", "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    validate_report(report)
    assert report == json.loads((out / "report.json").read_text())
    assert report["data"]["mentors"] == 40
    assert report["pipeline"]["mentees"] == min(20, report["data"]["test_mentees"])
    assert report["pipeline"]["ndcg@10_oracle"] == pytest.approx(1.0)
    assert report["pipeline"]["ndcg@5_oracle"] == pytest.approx(1.0)
    assert {p.name for p in out.glob("*.png")} == set(PLOT_FILES.values())
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    # the same split and the same models as scripts/train.py (run_training), to the digit
    trained = run_training(db_url, artifacts, seed=42, encoder=encoder, progress=False)
    assert report["data"]["test_mentees"] == trained["test_mentees"]
    assert report["data"]["test_pairs"] == trained["test_pairs"]
    for name, metrics in trained["models"].items():
        for key in ("accuracy", "f1", "roc_auc", "ndcg@5", "ndcg@10"):
            assert report["models"][name][key] == pytest.approx(metrics[key], abs=1e-9), (name, key)


@pytest.mark.slow
def test_script_prints_tables_and_where_the_report_is(indexed_world, tmp_path, capsys):
    db_url, artifacts = indexed_world
    out = tmp_path / "tables"
    code = load_script().main([
        "--db-url", db_url, "--artifacts", str(artifacts), "--report", str(out),
        "--pipeline-mentees", "10", "--seed", "5",
    ])
    printed = capsys.readouterr().out
    assert code == 0
    assert "xgboost_ranker" in printed and "oracle" in printed and "Stage-1 recall" in printed
    assert str(out / "report.html") in printed
    assert json.loads((out / "report.json").read_text())["seed"] == 5


def test_script_fails_with_one_line_when_the_index_is_missing(indexed_world, tmp_path, capsys):
    db_url, _ = indexed_world
    code = load_script().main(
        ["--db-url", db_url, "--artifacts", str(tmp_path / "none"), "--report", str(tmp_path / "r"), "--json"]
    )
    printed = capsys.readouterr()
    assert code == 1
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1, printed.err
    assert lines[0].startswith("evaluate: ") and "build_index.py" in lines[0]
    assert printed.out == "" and not (tmp_path / "r").exists()
