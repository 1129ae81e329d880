"""The dbt project as Dagster sees it, and the parse that makes its manifest.

The project is the checkout's dbt_project/ or, installed, the copy the wheel carries inside the package
(`core.settings.DBT_PROJECT_DIR`). Either way dbt writes only to `DBT_TARGET_DIR`/`DBT_LOG_DIR`: beside
a checkout's project, under the working home's data/dbt/ when installed, never into site-packages.

Why not dagster-dbt's packaged-project support (`DbtProject(packaged_project_dir=...)` with
`dagster-dbt project prepare-and-package`): it copies the project into the source tree before the
build (a second copy to keep in step, made by a step `pip install .` does not run), it needs the
unpackaged `project_dir` to exist where the package runs (an installed wheel has none), and it makes
the manifest at build time, while ours records the user's warehouse file name and is made where the
user runs, in the working home. The wheel gets the one copy from hatch's force-include instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from dagster_dbt import DbtProject, DbtProjectPreparer

from .core.settings import DBT_PROJECT_DIR, DBT_TARGET_DIR, Settings, dbt_executable, environment_with
from .core.warehouse import MEMORY_LIMIT_ENV, effective_memory_limit

_PARSE_OUTPUT_TAIL = 4000
PARTIAL_PARSE = "partial_parse.msgpack"


class ManifestPreparer(DbtProjectPreparer):
    """Parses the project into target/manifest.json with `dbt parse` in its own process.

    Built on dagster-dbt's public preparer interface (`prepare`, `prepare_if_dev`) instead of its
    default preparer, which parses through a `DbtCliResource` that first builds dbt's adapter inside
    this process (a parse took 10.0 s that way, 5.1 s this way), after which the process keeps the
    adapter's memory (34 MB) and a multiprocessing resource-tracker process for the rest of the run,
    next to dbt's own process at the memory peak. It also finds `dbt` without PATH (`dbt_executable`).
    """

    def prepare(self, project: DbtProject) -> None:
        settings = Settings.from_env()
        target = Path(project.project_dir, project.target_path)  # an absolute target_path stays as is
        # Parsed in a folder of its own, then moved into place: other processes read target/'s manifest
        # (loading the definitions) and copy its partial_parse.msgpack (each dbt step) meanwhile, and
        # dbt writes them in place. It starts from the last parse's msgpack, so dbt parses only what
        # changed when it can.
        scratch = target / f".parse-{os.getpid()}"
        scratch.mkdir(parents=True, exist_ok=True)
        if (target / PARTIAL_PARSE).exists():
            shutil.copy2(target / PARTIAL_PARSE, scratch / PARTIAL_PARSE)
        # dbt's log file goes beside its target folder (core.settings.dbt_output_dirs), not into the
        # (possibly installed) project.
        args = [dbt_executable(), "parse", "--quiet", "--target-path", str(scratch),
                "--log-path", str(target.parent / "logs"), "--profiles-dir", str(project.profiles_dir)]
        # The manifest records the warehouse's database name (the file's stem), so dbt parses against
        # the warehouse these settings name; the environment holds that for the dbt process only. The
        # same profile values as the run's dbt steps (`dbt_env`): dbt keeps them in its partial-parse
        # check, and a step whose profile differs from this parse's re-parses every node.
        env = environment_with(dbt_env(settings))
        try:
            done = subprocess.run(args, cwd=project.project_dir, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                output = (done.stdout + done.stderr)[-_PARSE_OUTPUT_TAIL:]
                raise RuntimeError(f"`dbt parse` failed (exit {done.returncode}):\n{output}")
            for made in scratch.glob("*.*"):
                if made.is_file():
                    os.replace(made, target / made.name)  # atomic: a reader sees the old file or the new one
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def dbt_env(settings: Settings) -> dict[str, str | None]:
    """What every dbt process of a run (the parse and the build steps) sees: the warehouse settings
    profiles.yml reads, with the memory limit the project applies when none is set (unset, DuckDB
    would take up to 80% of RAM in dbt's process; core/warehouse.py)."""
    return {**settings.dbt_env(), MEMORY_LIMIT_ENV: effective_memory_limit(settings.memory_limit)}


preparer = ManifestPreparer()
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=DBT_TARGET_DIR)


# Parsing output and scratch files, not inputs of the manifest.
_NOT_INPUTS = {"target", "logs", "dbt_packages", ".sqlfluff_libs"}


def _fingerprint(settings: Settings | None = None) -> str:
    """What the parse depends on: every project file (path, size, mtime) and the profile dbt reads,
    i.e. the warehouse path and the memory limit.

    Why the whole path, not only the file's stem (which is all the manifest records): dbt keeps the
    profile's connection values in its partial-parse check, and the build steps copy this parse's
    partial_parse.msgpack. Parsed for another folder, the run's first dbt step re-parsed all ~450
    nodes (8-25 s); parsed here for this warehouse, both steps only read the saved parse (issue 20).
    """
    settings = settings or Settings.from_env()
    profile = json.dumps({k: v for k, v in dbt_env(settings).items() if k != "GLIBC_TUNABLES"}, sort_keys=True)
    digest = hashlib.sha256(profile.encode())
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
    """Parse the dbt project into target/manifest.json, as `dagster dev` does when it loads.

    The CLI and the tests call this before loading the definitions, so a fresh clone needs no manual
    `dbt parse`. A parse costs ~20 s on two cores, so it is skipped when the manifest was made from the
    same project files for the same warehouse (a stamp beside the manifest records their fingerprint).
    """
    stamp = Path(dbt_project.manifest_path).with_name("manifest.fingerprint")
    fingerprint = _fingerprint()
    if Path(dbt_project.manifest_path).exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return
    preparer.prepare(dbt_project)
    stamp.write_text(fingerprint)


# What `DbtProject.prepare_if_dev()` does, with our preparer and skipping an unchanged project: under
# `dagster dev` the manifest is made (or remade) when the code location loads.
if preparer.using_dagster_dev():
    prepare_manifest()
