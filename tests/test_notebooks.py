"""The notebooks run top to bottom on the generated warehouse and draw their plots; they are stored
without outputs.

The kernel is this interpreter's (sys.executable), whatever kernelspecs the machine has: no install step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import RESOURCES
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# notebook -> plots it must draw on the test warehouse
PLOTS = {"warehouse_tour": 3, "ab_cohort_report": 4}


class ThisInterpreterKernels(KernelSpecManager):
    """Every kernel name resolves to an ipykernel on sys.executable (the venv's Python)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3",
            language="python",
            resource_dir=RESOURCES,
        )


def _execute(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreterKernels())
    try:
        NotebookClient(
            notebook, km=manager, timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
    finally:
        # nbclient leaves a kernel it was handed running; a live kernel keeps the DuckDB file locked.
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    return notebook


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_notebook_runs_and_draws(warehouse, name):
    with warehouse.activate():  # ONBOARDING_DB points at the test warehouse; the kernel inherits it
        notebook = _execute(NOTEBOOKS / f"{name}.ipynb")
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert str(warehouse.db_path) in text  # it read the test warehouse, not data/warehouse.duckdb
    plots = sum("image/png" in o.get("data", {}) for o in outputs)
    assert plots >= PLOTS[name]


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_notebook_is_stored_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
