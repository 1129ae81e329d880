"""Old dbt run folders are pruned; recent ones and non-run files are kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dagster_project.dbt_targets import prune_run_targets


def _folder(target: Path, name: str, age_s: float) -> Path:
    path = target / name
    path.mkdir(parents=True)
    (path / "manifest.json").write_text("{}")
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_prune_keeps_the_newest_and_the_recent(tmp_path: Path) -> None:
    old = [_folder(tmp_path, f"run-{i:012d}", 7200 + i * 60) for i in range(5)]
    recent = _folder(tmp_path, "dbt_decisions-abc1234-def5678", 60)  # dagster-dbt's own naming
    (tmp_path / "manifest.json").write_text("{}")  # the project's parse: never touched
    (tmp_path / "compiled").mkdir()

    removed = prune_run_targets(tmp_path, keep=2)

    # newest two kept: the recent one and old[0]; of the rest, all are older than an hour
    assert sorted(removed) == sorted(old[1:])
    assert recent.exists() and old[0].exists()
    assert (tmp_path / "manifest.json").exists() and (tmp_path / "compiled").exists()
    assert prune_run_targets(tmp_path, keep=0, min_age_s=3600) == [old[0]]
