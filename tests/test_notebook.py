"""The walkthrough notebook runs top to bottom on a small world, in the project's virtualenv."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "mentor_matching_ml.ipynb"


def test_notebook_outputs_are_not_committed() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with_outputs = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not with_outputs, f"clear the outputs of cells {with_outputs} (jupyter nbconvert --clear-output --inplace)"


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits this environment: a small world, a work folder pytest cleans up,
    # a display-free matplotlib.
    monkeypatch.setenv("MM_NOTEBOOK_MENTORS", "60")
    monkeypatch.setenv("MM_NOTEBOOK_MENTEES", "150")
    monkeypatch.setenv("MM_NOTEBOOK_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))

    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    assert nb.cells[-1].outputs[0]["text"].strip() == sys.executable, "the kernel must run this virtualenv's python"
    images = sum(
        1 for cell in nb.cells if cell.cell_type == "code"
        for out in cell.outputs if "image/png" in out.get("data", {})
    )
    assert images >= 7, f"expected the notebook's plots, got {images} images"
    text = "\n".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert "MODEL COMPARISON" in text  # the published training report
    # Two recommendation tables: a known mentee's and the typed-in mentee's.
    assert len(re.findall(r"score +why", text)) == 2, text
    assert (tmp_path / "work" / "artifacts" / "ranker" / "manifest.json").is_file()
    assert (tmp_path / "work" / "artifacts" / "index").is_dir()
