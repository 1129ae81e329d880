"""The notebooks run top to bottom on the generated warehouse and draw their plots; they are stored
without outputs.

The kernel is this interpreter's (sys.executable), whatever kernelspecs the machine has: no install step.
"""

from __future__ import annotations

import gc
import re
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
        # The kernel client's zmq context is destroyed when the client is collected, with a logged warning
        # when that fails: collect it here, not during a later test of this worker that reads its stderr.
        del manager
        gc.collect()
    return notebook


# A count printed as a float ("2000.0"): a SUM or a pivot's fillna left a count column as floats.
FLOAT_COUNT = re.compile(r"(?<![\d.])\d+\.0(?![\d.])")


def _text(cell: nbformat.NotebookNode) -> str:
    """What a cell printed and displayed, as plain text."""
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _expired_messages(warehouse) -> int:
    """Messages the sync left behind for age in this warehouse (what the delivery chart must show)."""
    from sync.engine import expired_sql

    con = warehouse.connect()
    try:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables where table_schema = 'sync'").fetchall()}
        if "outbox" not in tables:
            return 0
        sql = expired_sql(con)
        never_queued = con.execute(f"select count(*) from ({sql})").fetchone()[0] if sql else 0
        withdrawn = con.execute(
            "select count(*) from sync.outbox where status = 'withdrawn' and last_error like 'expired%'").fetchone()[0]
        return never_queued + withdrawn
    finally:
        con.close()


@pytest.fixture(scope="module")
def executed(warehouse):
    """Each notebook run once on the session warehouse (a kernel start and a few queries each)."""
    with warehouse.activate():  # ONBOARDING_DB points at the test warehouse; the kernel inherits it
        return {name: _execute(NOTEBOOKS / f"{name}.ipynb") for name in sorted(PLOTS)}


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_notebook_runs_and_draws(warehouse, executed, name):
    notebook = executed[name]
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert str(warehouse.db_path) in text  # it read the test warehouse, not data/warehouse.duckdb
    plots = sum("image/png" in o.get("data", {}) for o in outputs)
    assert plots >= PLOTS[name]


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_notebook_counts_print_as_integers(executed, name):
    """The cells tagged `counts` print tables of counts: no count may come out as a float."""
    cells = [c for c in executed[name].cells if "counts" in c.metadata.get("tags", [])]
    assert cells, "no cell is tagged counts"
    for cell in cells:
        text = _text(cell)
        assert text.strip(), f"a counts cell printed nothing: {cell.source[:60]!r}"
        assert not FLOAT_COUNT.findall(text), f"counts printed as floats in {cell.source[:60]!r}:\n{text}"


def test_delivery_chart_counts_expired_messages(warehouse, executed):
    """The delivery table has an `expired` column with the messages the sync never sent for age."""
    expected = _expired_messages(warehouse)
    # the session warehouse's three weeks of messages, synced once, outlast the default 3-day window
    assert expected > 0
    cell = next(c for c in executed["warehouse_tour"].cells if 'exists("sync", "outbox")' in c.source)
    text = _text(cell)
    header = next(line for line in text.splitlines() if "expired" in line.split())
    column = header.split().index("expired")
    rows = [line.split() for line in text.splitlines() if line.split()[:1] and line.split()[0] in
            {"appcues", "calendly", "intercom", "slack", "sendgrid", "salesforce", "mixpanel", "segment"}]
    # the header is the columns' name ("status") then the statuses; a row, the destination then its counts
    assert sum(int(row[column]) for row in rows) == expected


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_notebook_is_stored_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
