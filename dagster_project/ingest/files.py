"""Find the landing files of one source and one landing day.

Every landing file belongs to exactly one day, read from its path (docs/data-contracts.md, section 1),
so a Dagster partition maps to a fixed set of files and re-loading a day is well defined.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

SOURCES = ("segment", "rudderstack", "mixpanel", "signups", "tickets", "nps")


@dataclass(frozen=True)
class LandingFile:
    source: str
    day: date
    path: Path
    relative: str


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_MDY = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")


def _day_from_folder(name: str) -> date | None:
    """Segment writes epoch-ms day folders, RudderStack MM-DD-YYYY; ISO dates are accepted too."""
    if name.isdigit() and len(name) >= 12:
        return datetime.fromtimestamp(int(name) / 1000, tz=UTC).date()
    if m := _MDY.match(name):
        return date(int(m[3]), int(m[1]), int(m[2]))
    if m := _ISO.match(name):
        return date(int(m[1]), int(m[2]), int(m[3]))
    return None


def _day_from_filename(name: str) -> date | None:
    m = _ISO.match(name)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def iter_landing_files(landing: Path, source: str) -> Iterator[LandingFile]:
    """Every file of a source with its landing day; files whose day cannot be read are skipped."""
    if source in ("segment", "rudderstack"):
        root = landing / source
        for path in sorted(root.glob("*/*/*/*")) if root.exists() else []:
            if not path.is_file():
                continue
            try:
                day = _day_from_folder(path.parent.name)
            except (ValueError, OverflowError, OSError):
                day = None
            if day is not None:
                yield LandingFile(source, day, path, path.relative_to(landing).as_posix())
        return
    root = landing / source
    for path in sorted(root.glob("*")) if root.exists() else []:
        if path.is_file() and (day := _day_from_filename(path.name)) is not None:
            yield LandingFile(source, day, path, path.relative_to(landing).as_posix())


_LAYOUT = {
    "segment": "segment/segment-logs/<source-id>/<epoch-ms or YYYY-MM-DD>/<file>",
    "rudderstack": "rudderstack/rudder-logs/<source-id>/<MM-DD-YYYY>/<file>",
}


def unplaced_files(landing: Path, source: str) -> list[tuple[str, str]]:
    """Files under a source's folder that belong to no landing day: (path relative to landing, why).

    The loader cannot load them (it cannot tell which day they are), and skipping them without a word
    loses their lines silently; the load records them in `raw.quarantine` as `unplaced_file`.
    """
    root = landing / source
    if not root.exists():
        return []
    placed = {f.path for f in iter_landing_files(landing, source)}
    layout = _LAYOUT.get(source, f"{source}/<YYYY-MM-DD>[-<n>].<ext>")
    out: list[tuple[str, str]] = []
    hidden = (".DS_Store", ".gitkeep")  # a file manager's or a repository's, never an export
    for path in sorted(
        p for p in root.rglob("*") if p.is_file() and p not in placed and p.name not in hidden
    ):
        relative = path.relative_to(landing).as_posix()
        depth = len(path.relative_to(root).parts)
        expected = 4 if source in _LAYOUT else 1
        why = (
            f"at folder depth {depth}, not {expected}"
            if depth != expected
            else f"no readable date in {'its folder' if source in _LAYOUT else 'its name'}"
        )
        out.append((relative, f"{why}; expected {layout}"))
    return out


def files_for_day(landing: Path, source: str, day: date) -> list[LandingFile]:
    return [f for f in iter_landing_files(landing, source) if f.day == day]


def landing_days(landing: Path) -> list[date]:
    """All landing days present for any source, sorted."""
    days = {f.day for source in SOURCES for f in iter_landing_files(landing, source)}
    return sorted(days)


def landing_fingerprints(landing: Path, days: set[str]) -> dict[str, str]:
    """Per landing day in `days` (ISO dates): a hash of its files' names, sizes and mtimes.

    The landing sensor compares these between ticks: a day whose hash changed has new or changed files.
    """
    current: dict[str, list[str]] = {}
    for source in SOURCES:
        for f in iter_landing_files(landing, source):
            day = f.day.isoformat()
            if day in days:  # today is not a partition until it has ended: not seen yet
                st = f.path.stat()
                current.setdefault(day, []).append(f"{f.relative}:{st.st_size}:{st.st_mtime_ns}")
    return {
        day: hashlib.sha1("\n".join(sorted(files)).encode()).hexdigest() for day, files in current.items()
    }
