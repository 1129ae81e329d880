"""The Dagster UI in headless Chromium (opt-in: `pytest -m browser`, or `make ui-check`).

Runs scripts/check_ui.py: `dagster dev` on a small generated dataset, the asset graph with its groups,
the partitions, and a three-day backfill launched from the UI that must succeed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_ui.py"


def _check_ui():
    spec = importlib.util.spec_from_file_location("check_ui", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # registered before it runs: its dataclass (with `from __future__ import annotations`) looks itself up
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_dagster_ui_graph_partitions_and_a_three_day_backfill(tmp_path):
    check_ui = _check_ui()
    if not Path(check_ui.CHROMIUM).exists():
        pytest.skip(f"{check_ui.CHROMIUM} not installed (make ui-check installs it)")
    result = check_ui.run_check(tmp_path / "work", tmp_path / "img")
    assert not result.load_warnings, result.load_warnings
    assert set(check_ui.EXPECTED_GROUPS) <= set(result.groups_in_code)
    assert result.groups_shown == result.groups_in_code
    assert len(result.partitions_shown) == check_ui.LANDING_DAYS
    assert len(result.backfill_partitions) == check_ui.BACKFILL_DAYS
    assert result.run_statuses and set(result.run_statuses) == {"SUCCESS"}
    assert result.loaded_days == result.backfill_partitions
    assert all(p.stat().st_size > 10_000 for p in result.screenshots)
    assert result.ok, result.problems
