"""What `pip install` gives a user: the wheel, its declared dependencies and the lock.

Why: the demo generator ships (`onboarding generate` is a product command) while the stand-ins and the
test harness do not; a shipped module that imports a dev-only package (werkzeug, pytest,
playwright...) works in the repository's venv, which has the `dev` extra, and breaks for a user who
installs the wheel. The dbt project ships inside the wheel too, and dbt must then write its target and
log folders under the user's working folder, not into site-packages nor into a checkout.

So the slow test builds the wheel, installs it with pip (offline) into a fresh venv whose only other
packages are the wheel's runtime dependency closure (from its own `Requires-Dist`, extras left out,
symlinked from this venv: nothing else is importable), and from an empty folder outside the checkout
runs `onboarding generate` and `onboarding run`, then imports every shipped module there. The fast
tests compare the declared dependencies with the shipped code's imports, and the lock with both.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import resource
import subprocess
import sys
import time
import tomllib
import venv
import zipfile
from importlib.metadata import Distribution, PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

import duckdb
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = ROOT / "requirements.lock"

# Declared runtime dependencies that no shipped module imports, and why they are declared anyway.
RUN_WITHOUT_IMPORT = {
    "dagster-webserver": "the UI: `dagster dev` (make dev) serves it",
    "dbt-duckdb": "dbt's DuckDB adapter: dbt loads it from profiles.yml (type: duckdb)",
}


def _name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)


# --------------------------------------------------------------------------------------------------
# Declared dependencies against the shipped code's imports (fast: sources and pyproject.toml only)
# --------------------------------------------------------------------------------------------------


def _shipped_packages() -> list[str]:
    return PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]


def _third_party_imports() -> dict[str, set[str]]:
    """Modules imported by the shipped packages (absolute imports, stdlib and our own left out), each
    with the files importing it. Imports under `if TYPE_CHECKING:` count: they name a package the code
    is written against."""
    ours = set(_shipped_packages())
    found: dict[str, set[str]] = {}
    for package in ours:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ours:
                        found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


@functools.cache
def _record(name: str) -> frozenset[str]:
    """The files a distribution installed (its RECORD), as posix paths relative to site-packages."""
    try:
        return frozenset(f.as_posix() for f in distribution(name).files or [])
    except PackageNotFoundError:
        return frozenset()


def _owners(module: str, candidates: set[str]) -> set[str]:
    """Of the candidate distributions, those that provide `module`, read from their RECORD without
    importing anything: the ones holding the module's own file (`dbt` is a namespace shared by
    dbt-core, dbt-adapters and dbt-duckdb; `dbt.version` is dbt-core's), looking at its parent when
    none does (`from dagster_dbt.x import y` names a module or an object)."""
    parts = module.split(".")
    while parts:
        stem = "/".join(parts)
        owners = {name for name in candidates if {f"{stem}.py", f"{stem}/__init__.py"} & _record(name)}
        if owners:
            return owners
        parts.pop()
    return set()


def test_runtime_dependencies_are_what_the_shipped_code_imports() -> None:
    """Every third-party import of the wheel's modules is declared in `dependencies` (or in the
    optional extra of the feature that imports it), and every declared runtime package is imported by
    them or listed in RUN_WITHOUT_IMPORT with the reason."""
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = PYPROJECT["project"]["optional-dependencies"]
    dev = {_name(r) for r in extras["dev"]}
    # A feature's own extra (`pip install 'onboarding-engine[s3]'`) declares what its code imports
    # when the feature is used; the dev extra declares nothing the shipped code may import.
    optional = {_name(r) for extra, reqs in extras.items() if extra != "dev" for r in reqs}
    imported: set[str] = set()
    undeclared = []
    for module, importers in sorted(_third_party_imports().items()):
        owners = _owners(module, declared | optional)
        if not owners:
            provider = packages_distributions().get(module.split(".")[0], ["?"])
            undeclared.append(f"{module} (from {sorted(provider)}; imported by {sorted(importers)[:3]})")
        imported |= owners & declared
    assert undeclared == [], "shipped code imports undeclared packages: " + "; ".join(undeclared)
    unused = declared - imported - set(RUN_WITHOUT_IMPORT)
    assert unused == set(), f"declared runtime dependencies nothing shipped imports: {sorted(unused)}"
    assert set(RUN_WITHOUT_IMPORT) <= declared - imported, "RUN_WITHOUT_IMPORT names an imported package"
    # dev-only tools stay out of the runtime list
    assert not {"pytest", "werkzeug", "ruff", "sqlfluff", "scipy", "pandas"} & declared
    assert not declared & dev, f"declared both at run time and in dev: {sorted(declared & dev)}"


def _locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_lock_pins_every_declared_requirement_within_its_range_with_hashes() -> None:
    """requirements.lock (`uv pip compile --all-extras --generate-hashes`) is not stale: every
    requirement of pyproject.toml, runtime and every extra, is pinned there at a version its range
    allows, and every pin carries hashes (pip --require-hashes refuses a lock without)."""
    pins = _locked()
    requirements = [*PYPROJECT["project"]["dependencies"],
                    *(r for extra in PYPROJECT["project"].get("optional-dependencies", {}).values() for r in extra)]
    problems = []
    for text in requirements:
        req = Requirement(text)
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            problems.append(f"{req.name}: not in the lock")
        elif not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"{req.name}: locked {pinned}, pyproject wants {req.specifier}")
    assert problems == [], "requirements.lock is stale (make lock): " + "; ".join(problems)
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    unhashed = [e.split("==")[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
    assert unhashed == []


# --------------------------------------------------------------------------------------------------
# The wheel, installed with pip into a venv of its runtime closure, run from an empty folder (slow)
# --------------------------------------------------------------------------------------------------


def _build_wheel(out: Path) -> Path:
    """`pip wheel` without build isolation: hatchling comes from the dev extra, so nothing is fetched."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "-w", str(out), str(ROOT)], check=True, capture_output=True, text=True)
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
        name = canonicalize_name(req.name)
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


# Loaded by a .pth file in every Python process of the test venv (the CLI, the ingest child, dbt):
# records each write (open for writing, mkdir, rename, remove...) under the watched folders. Python's
# own bytecode cache is left out; DuckDB writes only the warehouse files the settings name.
WRITE_AUDIT = '''
import os, sys
_ROOTS = tuple(r.rstrip(os.sep) + os.sep for r in os.environ.get("WRITE_AUDIT_ROOTS", "").split(os.pathsep) if r)
_LOG = os.environ.get("WRITE_AUDIT_LOG")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PATH_EVENTS = {"os.mkdir": 1, "os.rename": 2, "os.replace": 2, "os.remove": 1, "os.rmdir": 1, "os.symlink": 2,
                "os.link": 2, "os.truncate": 1, "shutil.rmtree": 1, "shutil.copyfile": 2, "shutil.move": 2}

def _watched(path):
    if path is None or isinstance(path, int):
        return False
    path = os.path.abspath(os.fsdecode(path))
    if "__pycache__" in path.split(os.sep):
        return False
    return (path + os.sep).startswith(_ROOTS) or (os.path.realpath(path) + os.sep).startswith(_ROOTS)

def _hook(event, args):
    if event == "open":
        path, mode, flags = args
        if not ((isinstance(mode, str) and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE_FLAGS):
            return
        paths = [path]
    elif event in _PATH_EVENTS:
        paths = list(args[: _PATH_EVENTS[event]])
    else:
        return
    for path in paths:
        if _watched(path):
            with open(_LOG, "a") as log:
                log.write(f"{os.getpid()} {event} {os.fsdecode(path)}\\n")

if _ROOTS and _LOG:
    sys.addaudithook(_hook)
'''

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


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts}


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any setting that could point the installed package at the
    checkout or at a service: the run must find everything from its working folder alone."""
    prefixes = ("ONBOARDING_", "DAGSTER_", "DBT_", "OPENAI_", "INTERCOM_", "SLACK_", "APPCUES_", "CALENDLY_", "SYNC_")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(prefixes) and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return env | extra


WHEEL_USERS, WHEEL_DAYS = 20, 2


@pytest.mark.slow  # wheel build, offline pip install, a dbt parse and a pipeline run: ~3 min of CPU
def test_installed_wheel_runs_the_pipeline_from_an_empty_folder(tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)

    wheel = _build_wheel(tmp_path / "dist")
    archive = zipfile.ZipFile(wheel)
    # The dbt project is in the wheel: every tracked file of dbt_project/ but the linter's, nothing else.
    tracked = subprocess.run(["git", "ls-files", "dbt_project"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    expected = {f"dagster_project/{f}" for f in tracked if not f.startswith("dbt_project/.sqlfluff")}
    packaged = {m for m in archive.namelist() if m.startswith("dagster_project/dbt_project/")}
    assert packaged == expected, (sorted(expected - packaged)[:5], sorted(packaged - expected)[:5])
    [metadata] = [m for m in archive.namelist() if m.endswith(".dist-info/METADATA")]
    requires = [line.split(":", 1)[1].strip() for line in archive.read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:")]
    closure = _runtime_closure(requires)
    # dev-only packages stay out (jsonschema is not among them: dbt-core needs it at run time)
    assert not {"werkzeug", "pytest", "pytest-httpserver", "scipy", "pandas"} & set(closure)
    timings["build"] = time.perf_counter() - clock

    # A venv with the closure on its path (runtime.pth), then pip installs the wheel into it offline:
    # its requirements are met by the closure, so pip resolves them without an index.
    site = tmp_path / "site"
    site.mkdir()
    _link_files(closure, site)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    [venv_site] = env_dir.glob("lib/python*/site-packages")
    (venv_site / "runtime.pth").write_text(f"{site}\n")
    (venv_site / "_write_audit.py").write_text(WRITE_AUDIT)
    (venv_site / "write_audit.pth").write_text("import _write_audit\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--isolated", "--python", str(python), "install", "--no-index",
         "--find-links", str(wheel.parent), "--quiet", "onboarding-engine"],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-3000:]
    assert (venv_site / "dagster_project" / "dbt_project" / "dbt_project.yml").is_file()
    # dbt-core's console script, as pip would install it (the code location looks for `dbt` there).
    dbt = env_dir / "bin" / "dbt"
    dbt.write_text(f"#!{python}\nimport sys\nfrom dbt.cli.main import cli\nsys.exit(cli())\n")
    dbt.chmod(0o755)
    timings["install"] = time.perf_counter() - clock - timings["build"]

    # From an empty folder outside the checkout, with no setting: the folder is the working home.
    home = tmp_path / "work"
    home.mkdir()
    audit_log = tmp_path / "writes.log"
    env = _clean_env(WRITE_AUDIT_ROOTS=os.pathsep.join([str(ROOT), str(venv_site)]),
                     WRITE_AUDIT_LOG=str(audit_log))
    site_before = _files(venv_site)
    probe = subprocess.run([str(python), "-c", "import werkzeug"], cwd=home, env=env, capture_output=True, text=True)
    assert probe.returncode != 0, "the runtime-only interpreter can import a dev-only package"
    onboarding = str(env_dir / "bin" / "onboarding")
    started = time.perf_counter()
    # The smallest set that still shows a run over every landing day (two) with decisions for its users.
    generated = subprocess.run([onboarding, "generate", "--users", str(WHEEL_USERS), "--days", str(WHEEL_DAYS)],
                               cwd=home, env=env, capture_output=True, text=True, timeout=600)
    assert generated.returncode == 0, generated.stdout[-2000:] + generated.stderr[-3000:]
    timings["generate"] = time.perf_counter() - started
    started = time.perf_counter()
    # Generous timeouts: on a shared, loaded machine the run took 8.5 min of wall time for 2.5 min of CPU.
    ran = subprocess.run([onboarding, "run"], cwd=home, env=env, capture_output=True, text=True, timeout=1800)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    timings["run"] = time.perf_counter() - started

    # The warehouse, landing files and dbt's output are all under the working folder.
    with duckdb.connect(str(home / "data" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(distinct _partition_day) from raw.signups").fetchone()[0] == WHEEL_DAYS
        assert con.execute("select count(*) from marts.user_onboarding").fetchone()[0] > 0
        assert con.execute("select count(*) from marts.user_onboarding_daily").fetchone()[0] > 0
    assert (home / "data" / "landing").is_dir()
    assert (home / "data" / "dbt" / "target" / "manifest.json").is_file()
    assert list((home / "data" / "dbt" / "target").glob("run-*")), "the run's dbt artifacts"
    assert (home / "data" / "dbt" / "logs").is_dir()
    # Nothing written into the checkout or the venv's site-packages (no target/ or logs/ beside the
    # packaged project) by any process of the run: the CLI, the ingest child, dbt.
    assert _files(venv_site) == site_before
    assert not audit_log.exists(), audit_log.read_text()[:3000]

    # Every shipped module imports with the runtime closure only (definitions included: the manifest
    # the run made is in this working folder).
    modules = _modules(wheel)
    assert "dagster_project.demo" in modules and "sync.engine" in modules
    started = time.perf_counter()
    done = subprocess.run([str(python), "-P", "-c", IMPORT_ALL, json.dumps(modules)],
                          cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert failures == {}, "\n".join(f"{m}: {e}" for m, e in failures.items())
    timings["import_all"] = time.perf_counter() - started
    assert not audit_log.exists(), audit_log.read_text()[:3000]
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    timings["children_cpu"] = cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    print({k: round(v, 1) for k, v in timings.items()})  # wall seconds per step; CPU of every child process
