"""Housekeeping of dbt's target folder: every pipeline run leaves one folder of artifacts there.

A module of its own (not in `assets/dbt.py`) so it can be imported without loading the dbt manifest.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

KEEP_TARGETS = 10


def prune_run_targets(target: Path, keep: int = KEEP_TARGETS, min_age_s: float = 3600.0) -> list[Path]:
    """Delete the artifacts of old runs: every run leaves a folder of ~10 MB (manifest, run results,
    compiled SQL). The newest `keep` stay for debugging, and so does anything touched in the last
    hour, which a concurrent run may still be writing."""
    folders = sorted(
        (p for p in target.glob("*-*") if p.is_dir() and (p.name.startswith(("run-", "dbt_")))),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    now = time.time()
    old = [p for p in folders[keep:] if now - p.stat().st_mtime > min_age_s]
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    return old
