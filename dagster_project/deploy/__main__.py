"""`python -m dagster_project.deploy [DAGSTER_HOME]`: set up a deployment's Dagster home.

Copies the shipped `dagster.yaml` (PostgreSQL, one run at a time, run retries) and `workspace.yaml`
into the folder (default: $DAGSTER_HOME), and parses the dbt project into its manifest: the webserver
and the daemon load the code location without parsing dbt themselves (only `dagster dev` does), so
the manifest has to exist before they start. A file that is already there and differs is left alone
(an operator may have edited it) unless `--force`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from . import INSTANCE_YAML, WORKSPACE_YAML


def install(home: Path, force: bool = False) -> list[str]:
    """Copy the two files into `home`; one line per file saying what happened."""
    home.mkdir(parents=True, exist_ok=True)
    said = []
    for source in (INSTANCE_YAML, WORKSPACE_YAML):
        target = home / source.name
        if target.exists() and target.read_bytes() != source.read_bytes() and not force:
            said.append(f"kept {target} (differs from the shipped one; --force replaces it)")
            continue
        shutil.copyfile(source, target)
        said.append(f"wrote {target}")
    return said


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_project.deploy",
        description="Set up a deployment's Dagster home: the shipped dagster.yaml and workspace.yaml, and "
        "the dbt manifest the webserver and the daemon load.",
    )
    parser.add_argument("home", nargs="?", help="the Dagster home folder (default: $DAGSTER_HOME)")
    parser.add_argument("--force", action="store_true", help="replace files that differ from the shipped ones")
    parser.add_argument("--no-manifest", action="store_true", help="skip the dbt parse")
    args = parser.parse_args(argv)
    home = args.home or os.environ.get("DAGSTER_HOME")
    if not home:
        print("error: name the Dagster home folder or set DAGSTER_HOME", file=sys.stderr)
        return 2
    for line in install(Path(home).expanduser().resolve(), args.force):
        print(line)
    if not args.no_manifest:
        from ..dbt_project import dbt_project, prepare_manifest

        prepare_manifest()
        print(f"dbt manifest ready: {dbt_project.manifest_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
