"""What `onboarding run` shows while it runs: a bar per stage, fed by Dagster's log records and dbt's output.

Three parts, all for the command line:

- `progress_logger`, the Dagster logger the CLI's run config turns on: it hands every step start,
  outcome and log line to the sink `run_pipeline` installs, as a `StepEvent`, instead of Dagster's
  console chatter. A module of its own so `definitions.py` (which registers the logger) and
  `pipeline.py` (which installs the sink) do not import each other.
- `RunDisplay`, the sink: one Rich bar per stage (ingest source-days, dbt nodes of each build, AI
  steps, sync destinations, reporting) on a terminal, one plain line per finished stage otherwise,
  every line with `--verbose`; and the run's full log written to `<data>/logs/<run_id>/`.
- `captured_output`, which takes the run's stdout and stderr (dagster-dbt re-prints every dbt line on
  stdout; Python warnings, library messages) off the terminal and into those files.

Why: a demo run printed 1,474 lines - one per source and day, dbt's whole log - so its result
scrolled away; now the terminal shows the bars and one closing screen (run_summary.py), and the
lines are in a file the screen names.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dagster import InitLoggerContext, logger
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# The run's stages, in order, by the prefixes of their Dagster step keys (op names): the ingest assets
# (raw/...) and their checks, the two dbt builds, the AI steps and checks, the sync per destination and
# its checks, the reporting asset. A step of none of them gets a bar "other".
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ingest", ("raw__", "ingest")),
    ("dbt staging", ("dbt_foundation",)),
    ("ai", ("ai__", "ai_")),
    ("dbt decisions", ("dbt_decisions",)),
    ("sync", ("sync__", "sync_")),
    ("reporting", ("marts__", "reporting")),
)
# What a stage's bar counts: ingest lines per source and day, dbt nodes (models, tests, seeds), else steps.
UNITS = {"ingest": "source-days", "dbt staging": "nodes", "dbt decisions": "nodes"}
# The ingest asset's line per source and day (assets/ingest.py), and dbt's line per finished node.
_INGEST_LINE = re.compile(r"^\S+ \d{4}-\d{2}-\d{2}: \d+ loaded")
_DBT_NODE = re.compile(r"^\s*(?:\d\d:\d\d:\d\d\s+)?(\d+) of (\d+) (OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b")


@dataclass(frozen=True)
class StepEvent:
    """One thing a run reported: `kind` is `log` (a step's own log line) or Dagster's event type
    (`STEP_START`, `STEP_SUCCESS`, `STEP_FAILURE`, `STEP_SKIPPED`, ...)."""

    run_id: str | None
    step: str
    kind: str
    message: str
    level: int = logging.INFO
    detail: str = ""
    """For a failure: the whole error, its causes and stack traces (for the log file, not the screen)."""


Progress = Callable[[StepEvent], None]
progress_sink: list[Progress] = []


def stage_of(step: str) -> str:
    return next((stage for stage, prefixes in STAGES if step.startswith(prefixes)), "other")


def _root_cause(error: Any) -> str:
    """The first line of the innermost cause: what went wrong, not Dagster's "error occurred while
    executing op" wrapper around it."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    lines = (getattr(error, "message", "") or "").strip().splitlines()
    return lines[0] if lines else ""


class _ProgressHandler(logging.Handler):
    """Hands the run's records to the installed sink as `StepEvent`s: the steps' own lines (INFO and
    up) and Dagster's events (step starts and successes are DEBUG records, hence the logger's level)."""

    def emit(self, record: logging.LogRecord) -> None:
        if not progress_sink:
            return
        meta = getattr(record, "dagster_meta", {}) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        run_id = meta.get("run_id")
        if event is None:
            if record.levelno < logging.INFO:
                return
            message = _ANSI.sub("", str(meta.get("orig_message", record.getMessage()))).strip()
            progress_sink[-1](StepEvent(run_id, step, "log", message, record.levelno))
            return
        message = detail = ""
        if event.event_type_value == "STEP_FAILURE":
            error = getattr(event.event_specific_data, "error", None)
            message = _root_cause(error)
            detail = error.to_string() if error is not None else ""
        progress_sink[-1](
            StepEvent(run_id, event.step_key or step, event.event_type_value, message, record.levelno, detail)
        )


@logger(description="Concise progress for the command line.")
def progress_logger(_: InitLoggerContext) -> logging.Logger:
    log = logging.getLogger("onboarding.progress")
    log.setLevel(logging.DEBUG)
    if not any(isinstance(h, _ProgressHandler) for h in log.handlers):
        log.addHandler(_ProgressHandler())
    log.propagate = False
    return log


class RunLog:
    """The run's full log: `<root>/<run_id>/run.log` (every step's lines and outcomes, the run's
    stderr) and `dbt.log` (what dbt printed). Lines that come before the run id are held until it."""

    NAMES = ("run.log", "dbt.log")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder: Path | None = None
        self._files: dict[str, IO[str]] = {}
        self._held: list[tuple[str, str]] = []

    def open(self, run_id: str) -> None:
        if self.folder is not None:
            return
        self.folder = self.root / run_id
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files = {name: (self.folder / name).open("a", encoding="utf-8", buffering=1) for name in self.NAMES}
        held, self._held = self._held, []
        for name, line in held:
            self.write(name, line)

    def write(self, name: str, line: str) -> None:
        if self.folder is None:
            self._held.append((name, line))
        else:
            self._files[name].write(line + "\n")

    def close(self) -> None:
        if self.folder is None and self._held:  # the run never started: keep what it said anyway
            self.open(f"no-run-{datetime.now():%Y%m%d-%H%M%S}")
        for file in self._files.values():
            file.close()
        self._files = {}


class RunDisplay:
    """The sink of a CLI run: bars (or plain lines) per stage, the run's log files, `--verbose` lines.

    `steps` are the job's step keys (for each stage's step count); `ingest_items` the number of
    source-days the ingest will load (the ingest bar's total).
    """

    def __init__(self, console: Console, steps: list[str], ingest_items: int, log: RunLog,
                 verbose: bool = False) -> None:
        self.console, self.log, self.verbose = console, log, verbose
        self.bars = console.is_terminal
        self.steps: dict[str, set[str]] = {}
        for step in steps:
            self.steps.setdefault(stage_of(step), set()).add(step)
        self.ended: dict[str, set[str]] = {stage: set() for stage in self.steps}
        self.skipped: dict[str, set[str]] = {stage: set() for stage in self.steps}
        self.started: dict[str, float] = {}
        self.counts: dict[str, int] = {stage: 0 for stage in self.steps}
        self.totals: dict[str, int | None] = {
            stage: ingest_items if stage == "ingest" else None if stage in UNITS else len(members)
            for stage, members in self.steps.items()
        }
        self.failures: dict[str, str] = {}
        self.step_failures: list[str] = []
        """Each failed step with its root cause, in the order they failed (for the closing screen)."""
        self.run_id: str | None = None
        self._dbt_stage: str | None = None
        self.progress = Bars(
            TextColumn("{task.description:<14}"), BarColumn(bar_width=28), MofNCompleteColumn(),
            TextColumn("[dim]{task.fields[unit]}[/dim] {task.fields[note]}"), TimeElapsedColumn(),
            console=console, redirect_stdout=False, redirect_stderr=False,
        )
        order = [stage for stage in [*dict(STAGES), "other"] if stage in self.steps]
        self.tasks: dict[str, TaskID] = {
            stage: self.progress.add_task(stage, total=self.totals[stage], start=False,
                                          unit=UNITS.get(stage, "steps"), note="")
            for stage in order
        }

    # -- the sink ---------------------------------------------------------------------------------

    def __call__(self, event: StepEvent) -> None:
        if event.run_id and self.run_id is None:
            self.run_id = event.run_id
            self.log.open(event.run_id)
        stage = stage_of(event.step) if event.step else None
        if stage not in self.tasks:  # a step outside the job's plan (never expected): logged, no bar
            stage = None
        if event.kind == "log":
            self.log.write("run.log", f"{datetime.now():%H:%M:%S} {event.step or 'run':<24} {event.message}")
            if stage == "ingest" and _INGEST_LINE.match(event.message):
                self._advance(stage)
            if stage == "sync" and event.message:  # "intercom: completed (dry) planned=..."
                self._note(stage, escape(event.message.split(" planned=")[0][:60]))
            self._echo(f"{event.step or 'run'}: {event.message}", event.level)
            return
        if event.kind in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            outcome = {"STEP_START": "started", "STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED",
                       "STEP_SKIPPED": "skipped"}[event.kind]
            first = event.message.splitlines()[0] if event.message else ""
            self.log.write("run.log", f"{datetime.now():%H:%M:%S} {event.step:<24} step {outcome}"
                           + (f": {event.detail or event.message}" if event.message else ""))
            self._echo(f"step {event.step}: {outcome}" + (f": {first}" if first else ""),
                       logging.ERROR if event.kind == "STEP_FAILURE" else logging.INFO)
            if stage is not None:
                self._step(stage, event.step, event.kind, first)

    def dbt_line(self, line: str) -> None:
        """A line dbt printed (stdout during the run): to dbt.log, and a finished node to its bar."""
        line = _ANSI.sub("", line).rstrip()
        self.log.write("dbt.log", line)
        match = _DBT_NODE.match(line)
        if match and self._dbt_stage is not None:
            stage = self._dbt_stage
            self.totals[stage] = int(match.group(2))
            self.counts[stage] += 1
            self.progress.update(self.tasks[stage], total=self.totals[stage], completed=self.counts[stage])
            if match.group(3) in ("ERROR", "FAIL"):
                node = line.split(match.group(3), 1)[1].strip()[:60]
                self._note(stage, f"[red]{match.group(3).lower()}: {escape(node)}[/red]")
        if self.verbose and line.strip():
            self._print(escape(line))

    def stderr_line(self, line: str) -> None:
        """A line the run wrote on stderr (a warning, a library's message): to run.log."""
        line = _ANSI.sub("", line).rstrip()
        if line:
            self.log.write("run.log", f"{datetime.now():%H:%M:%S} {'stderr':<24} {line}")
            if self.verbose:
                self._print(f"[dim]{escape(line)}[/dim]")

    # -- bars and lines ---------------------------------------------------------------------------

    @contextmanager
    def shown(self) -> Iterator[RunDisplay]:
        """The bars on screen for the block (a terminal only); the log files closed after it."""
        try:
            if self.bars:
                with self.progress:
                    yield self
            else:
                yield self
        finally:
            self.log.close()

    def _step(self, stage: str, step: str, kind: str, first_line: str) -> None:
        task = self.tasks[stage]
        if kind == "STEP_START":
            if stage not in self.started:
                self.started[stage] = time.monotonic()
                self.progress.start_task(task)
            if stage in ("dbt staging", "dbt decisions"):
                self._dbt_stage = stage
            return
        self.ended.setdefault(stage, set()).add(step)
        if kind == "STEP_FAILURE":
            self.failures[stage] = f"{step}: {first_line}"
            self.step_failures.append(self.failures[stage])
            self.progress.update(task, description=f"[red]{stage}[/red]")
            self._note(stage, f"[red]{escape(step)} failed[/red]")
        elif kind == "STEP_SKIPPED":
            self.skipped.setdefault(stage, set()).add(step)
            self._note(stage, "[yellow]skipped[/yellow]")
        if stage not in UNITS:
            self._advance(stage)
            if stage == "sync" and kind == "STEP_SUCCESS":
                self._note(stage, f"{step.removeprefix('sync__')} done")
        if self.ended[stage] >= self.steps.get(stage, set()):
            self._finish(stage)

    def _advance(self, stage: str) -> None:
        self.counts[stage] += 1
        self.progress.update(self.tasks[stage], completed=self.counts[stage])

    def _note(self, stage: str, note: str) -> None:
        self.progress.update(self.tasks[stage], note=note)

    def _finish(self, stage: str) -> None:
        task = self.tasks[stage]
        failed = stage in self.failures
        if not failed:
            total = self.totals[stage] if stage != "ingest" else self.counts[stage]
            self.totals[stage] = total = max(total or 0, self.counts[stage])
            self.progress.update(task, total=total, completed=total, note="" if stage != "sync" else "done")
        self.progress.stop_task(task)
        if self.bars or self.verbose:
            return
        seconds = time.monotonic() - self.started.get(stage, time.monotonic())
        unit = UNITS.get(stage, "steps" if self.counts[stage] != 1 else "step")
        if failed:
            self.console.print(f"{stage}: [red]failed[/red] - {escape(self.failures[stage])}", soft_wrap=True)
        elif self.skipped[stage] >= self.steps[stage]:
            self.console.print(f"{stage}: skipped (an earlier step failed)", highlight=False)
        else:
            self.console.print(f"{stage}: {self.counts[stage]:,} {unit} in {seconds:.1f}s", highlight=False)

    def _echo(self, text: str, level: int) -> None:
        """Every line with --verbose (errors in red); without it the lines are in run.log only."""
        if self.verbose:
            self._print(f"[red]{escape(text)}[/red]" if level >= logging.ERROR else escape(text))

    def _print(self, text: str) -> None:
        """A line above the bars (or a plain line): the console is the terminal's, not the captured stdout."""
        (self.progress.console if self.bars else self.console).print(text, highlight=False, soft_wrap=True)


class _Lines(io.TextIOBase):
    """A text stream that hands on complete lines; no file descriptor (so Dagster's compute-log
    capture, which redirects descriptors, leaves it alone)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        super().__init__()
        self._emit = emit
        self._partial = ""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def drain(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = ""


@contextmanager
def captured_output(display: RunDisplay) -> Iterator[None]:
    """sys.stdout (dbt's lines, as dagster-dbt re-prints them) and sys.stderr go to the display for
    the block, not to the terminal; the display's console writes to the terminal's own stream."""
    out, err = _Lines(display.dbt_line), _Lines(display.stderr_line)
    with redirect_stdout(out), redirect_stderr(err):
        try:
            yield
        finally:
            out.drain()
            err.drain()
