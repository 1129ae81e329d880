"""The dbt project as Dagster sees it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer

from .core.settings import DBT_PROJECT_DIR, dbt_executable, ensure_dbt_on_path

# dagster-dbt's own preparer (used by prepare_if_dev under `dagster dev`) runs `dbt` from PATH.
ensure_dbt_on_path()


class _Preparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (`dbt parse`, then its seed fix-up), parsing through `DbtCli`.

    Why: its own `DbtCliResource` first builds dbt's adapter inside this process (a parse took 10.0 s
    that way, 5.1 s this way), and the process then keeps the adapter's memory (34 MB) and a
    multiprocessing resource tracker process for the rest of the run, next to dbt's own process at
    the memory peak.
    """

    def _prepare_manifest(self, project: DbtProject) -> None:
        from .resources import DbtCli

        cli = DbtCli(project_dir=project, dbt_executable=dbt_executable())
        cli.cli(self._prepare_project_cli_args, target_path=project.target_path).wait()
        self._invalidate_seeds_in_partial_parse(project)


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()


# Parsing output and scratch files, not inputs of the manifest.
_NOT_INPUTS = {"target", "logs", "dbt_packages", ".sqlfluff_libs"}


def _fingerprint() -> str:
    """What the manifest depends on: every project file (path, size, mtime) and the warehouse's file
    name (DuckDB names the database after the file's stem, and the manifest records it; the folder
    does not matter, so a test or benchmark warehouse in a temporary folder reuses the manifest)."""
    digest = hashlib.sha256(Path(os.environ.get("ONBOARDING_DB", "")).stem.encode())
    root = Path(dbt_project.project_dir)
    files: list[Path] = []
    for folder, subfolders, names in os.walk(root):
        if Path(folder) == root:  # never walk the (growing) target folder of past runs
            subfolders[:] = [d for d in subfolders if d not in _NOT_INPUTS]
        files.extend(Path(folder, name) for name in names)
    for path in sorted(files):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def prepare_manifest() -> None:
    """Parse the dbt project into target/manifest.json, as `dagster dev` does through prepare_if_dev.

    The CLI and the tests call this before loading the definitions, so a fresh clone needs no manual
    `dbt parse`. A parse costs ~20 s on two cores, so it is skipped when the manifest was made from the
    same project files for the same warehouse (a stamp beside the manifest records their fingerprint).
    """
    stamp = Path(dbt_project.manifest_path).with_name("manifest.fingerprint")
    fingerprint = _fingerprint()
    if Path(dbt_project.manifest_path).exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return
    _Preparer().prepare(dbt_project)
    stamp.write_text(fingerprint)
