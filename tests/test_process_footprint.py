"""What the Dagster process imports: only what orchestrating needs, so it stays small next to the
load child and dbt at a run's memory peaks (docs/benchmarks.md, figure 2)."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_definitions_imports_no_arrow_numpy_or_pandas():
    """pyarrow and numpy are the load child's (ingest/worker.py) and the sync step's (imported when
    it builds its first batch); pandas is nobody's in a run."""
    script = (
        "import sys; import dagster_project.definitions; "
        "print(' '.join(m for m in ('pyarrow', 'numpy', 'pandas') if m in sys.modules) or 'none')"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none"
