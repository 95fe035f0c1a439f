"""The notebooks also run as real Jupyter notebooks: converted by jupytext (as ``make
notebooks`` does) and executed cell by cell in an IPython kernel."""

from pathlib import Path

import jupytext
import nbclient
import pytest

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"


def test_a_notebook_converts_and_runs_in_a_jupyter_kernel(tmp_path):
    notebook = jupytext.read(NOTEBOOKS / "ablate_heads.py")
    assert sum(cell.cell_type == "code" for cell in notebook.cells) >= 3
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:  # pragma: no cover - shown on failure
        pytest.fail(f"a cell failed in the kernel: {str(error)[-1500:]}")
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream"
    )
    assert "induction heads:" in printed  # the same line the script run prints
