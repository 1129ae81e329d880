"""What ships in the wheel imports only its declared runtime dependencies.

Why: the demo generator ships (`onboarding generate` is a product command) while the stand-ins and the
test harness do not; a shipped module that imports a dev-only package (werkzeug, openapi-core, pytest,
playwright...) works in the repository's venv, which has the `dev` extra, and breaks for a user who
installs the wheel. So the test builds the wheel, and imports every module in it with a fresh
interpreter whose path holds exactly the wheel and the files of its runtime dependency closure (from the
wheel's own `Requires-Dist`, extras left out), symlinked from this venv: nothing else is importable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # a wheel build (~6 s) and an import of every module (~20 s)


def _build_wheel(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    [wheel] = out.glob("*.whl")
    return wheel


def _runtime_closure(requirements: list[str]) -> dict[str, Distribution]:
    """The installed distributions the requirements need, transitively; markers evaluated, no extras
    unless a requirement asks for them."""
    found: dict[str, Distribution] = {}
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            pytest.fail(f"runtime dependency {req.name} is not installed in this venv")
        first = name not in found
        found[name] = dist
        # Follow the distribution's own requirements once, plus those of any extra asked for.
        for extra_name in [""] * first + sorted(req.extras):
            todo.extend((Requirement(r), extra_name) for r in dist.requires or [])
    return found


def _link_files(dists: dict[str, Distribution], site: Path) -> None:
    """Symlink every file the distributions installed (their RECORD) into `site`, same layout."""
    for dist in dists.values():
        base = Path(str(dist.locate_file("")))
        for file in dist.files or []:
            source = base / file
            if ".." in file.parts or not source.exists():
                continue  # scripts in bin/, or files pip did not keep
            target = site / file
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)


IMPORT_ALL = """
import importlib, json, sys, traceback
failures = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failures[name] = "".join(traceback.format_exception_only(exc)).strip()
print(json.dumps(failures))
"""


def _modules(wheel: Path) -> list[str]:
    names = []
    for member in zipfile.ZipFile(wheel).namelist():
        if member.endswith(".py") and ".dist-info" not in member:
            parts = member[: -len(".py")].split("/")
            if parts[-1] == "__main__":
                continue  # runs its command when imported; its package is imported anyway
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def test_every_shipped_module_imports_with_runtime_dependencies_only(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    metadata = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info/METADATA")
    requires = [line.split(":", 1)[1].strip() for line in metadata.decode().splitlines()
                if line.startswith("Requires-Dist:")]
    closure = _runtime_closure(requires)
    # dev-only packages stay out (jsonschema is not among them: dbt-core needs it at run time)
    assert not {"werkzeug", "openapi-core", "pytest", "pytest-httpserver"} & set(closure)

    site = tmp_path / "site"
    site.mkdir()
    zipfile.ZipFile(wheel).extractall(site)
    _link_files(closure, site)
    # The wheel does not carry the dbt project (the modules find it beside the package, as in a
    # checkout); put the repository's there, so what is tested here is the Python dependencies only.
    (site / "dbt_project").symlink_to(ROOT / "dbt_project")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    [venv_site] = env_dir.glob("lib/python*/site-packages")
    (venv_site / "runtime.pth").write_text(f"{site}\n")
    # dbt-core's console script, as pip would install it (the code location looks for `dbt` there).
    dbt = env_dir / "bin" / "dbt"
    dbt.write_text(f"#!{python}\nimport sys\nfrom dbt.cli.main import cli\nsys.exit(cli())\n")
    dbt.chmod(0o755)

    modules = _modules(wheel)
    assert "dagster_project.demo" in modules and "sync.engine" in modules
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    probe = subprocess.run([str(python), "-P", "-c", "import werkzeug"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0, "the runtime-only interpreter can import a dev-only package"
    done = subprocess.run([str(python), "-P", "-c", IMPORT_ALL, json.dumps(modules)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert failures == {}, "\n".join(f"{m}: {e}" for m, e in failures.items())
