"""The working group's notebooks run top to bottom (nbclient, a real Jupyter kernel) and show figures
a policymaker can read. Like papermill, the test injects a cell after the tagged parameters cell:
one replication where the default asks for several (the bands then span one run, which the
notebooks must handle too); everything else runs at the notebook's defaults."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: the parameters the suite overrides (papermill's "injected-parameters" cell)
INJECTED = {"card_rollout": "replications = 1", "failover_247": "replications = 1",
            "payout_options": "replications = 2"}


def test_there_is_a_notebook_per_working_group_question() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert {"payout_options", "failover_247", "card_rollout", "eligibility_capacity"} <= names


#: each notebook is its own unit of work under pytest-xdist (tests/conftest.py): they share nothing, and
#: the two longest then run on both workers
UNITS = [pytest.param(p, id=p.stem, marks=pytest.mark.xdist_group(f"tests/test_notebooks.py::{p.stem}"))
         for p in NOTEBOOKS]


@pytest.mark.slow
@pytest.mark.parametrize("path", UNITS)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    # the first code cell is the parameters cell (tagged for papermill-style overrides)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    if path.stem in INJECTED:
        cell = nbformat.v4.new_code_cell(INJECTED[path.stem], metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(nb.cells.index(first) + 1, cell)
    # write run folders into a temporary reports/ so the tests leave nothing behind
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace('OUT = ROOT / "reports"', f"OUT = Path({str(tmp_path)!r})")
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
    ).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the notebook shows no figure"
    assert json.dumps(nb.metadata.get("kernelspec", {}))
