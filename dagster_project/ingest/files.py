"""Find the landing files of one source and one landing day.

Every landing file belongs to exactly one day, read from its path (docs/data-contracts.md, section 1),
so a Dagster partition maps to a fixed set of files and re-loading a day is well defined. The landing
location is a local folder or an object-store prefix (`landing.py`); which day a file belongs to is
decided here from its path below that location alone, the same for both.

Every function takes a `Landing` or a location (a path, or a URI such as `s3://bucket/prefix`). Pass
one `Landing` to several calls to list each source once (the loader does); a location is listed anew.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

from .landing import Entry, Landing, LandingError, LandingFile

__all__ = [
    "SOURCES",
    "Landing",
    "LandingError",
    "LandingFile",
    "Location",
    "files_for_day",
    "iter_landing_files",
    "landing_days",
    "landing_fingerprints",
    "unplaced_files",
]

SOURCES = ("segment", "rudderstack", "mixpanel", "signups", "tickets", "nps", "typeform")

Location = Landing | str | os.PathLike[str]

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


_LAYOUT = {
    "segment": "segment/segment-logs/<source-id>/<epoch-ms or YYYY-MM-DD>/<file>",
    "rudderstack": "rudderstack/rudder-logs/<source-id>/<MM-DD-YYYY>/<file>",
}

# The folders below the landing location that hold a source's files: its own and, for Segment and
# RudderStack, the one their S3 destinations write (`segment-logs/…`, `rudder-logs/…`) at the root of
# the bucket or of the prefix they are given. Why both: Segment's destination has no prefix setting,
# so a bucket it writes is read in place only if its `segment-logs/` may sit right at the location.
_FOLDERS = {"segment": ("segment", "segment-logs"), "rudderstack": ("rudderstack", "rudder-logs")}


def _depth(source: str, folder: str) -> int:
    """How many path parts below `folder` (one of the source's `_FOLDERS`) its files sit at."""
    if source not in _LAYOUT:
        return 1
    return 4 if folder == source else 3


def _entries(where: Landing, source: str) -> list[Entry]:
    return [entry for folder in _FOLDERS.get(source, (source,)) for entry in where.entries(folder)]


def _place(source: str, entry: Entry) -> date | None:
    """The landing day of a file from its path, or None (wrong depth, no readable date)."""
    parts = entry.parts
    if len(parts) != 1 + _depth(source, parts[0]):
        return None
    if source in _LAYOUT:
        try:
            return _day_from_folder(parts[-2])
        except (ValueError, OverflowError, OSError):
            return None
    return _day_from_filename(parts[-1])


def iter_landing_files(landing: Location, source: str) -> Iterator[LandingFile]:
    """Every file of a source with its landing day; files whose day cannot be read are skipped."""
    where = Landing.of(landing)
    for entry in _entries(where, source):
        if (day := _place(source, entry)) is not None:
            yield LandingFile(
                source,
                day,
                entry.path,
                entry.relative,
                entry.size,
                entry.version,
                entry.uri,
                entry.modified,
                where,
            )


def unplaced_files(landing: Location, source: str) -> list[tuple[str, str]]:
    """Files under a source's folder that belong to no landing day: (file as lineage names it, why).

    The loader cannot load them (it cannot tell which day they are), and skipping them without a word
    loses their lines silently; the load records them in `raw.quarantine` as `unplaced_file`. The file
    is named as the raw tables' `_file` names it: the path below the landing folder, or the object's URI.
    """
    layout = _LAYOUT.get(source, f"{source}/<YYYY-MM-DD>[-<n>].<ext>")
    out: list[tuple[str, str]] = []
    hidden = (".DS_Store", ".gitkeep")  # a file manager's or a repository's, never an export
    for entry in _entries(Landing.of(landing), source):
        if entry.parts[-1] in hidden or _place(source, entry) is not None:
            continue
        folder = entry.parts[0]
        expected = _depth(source, folder)
        # the exporter's own layout when the file is in its folder at the location's root
        shown = layout if folder == source else layout.split("/", 1)[1]
        depth = len(entry.parts) - 1
        why = (
            f"at folder depth {depth}, not {expected}"
            if depth != expected
            else f"no readable date in {'its folder' if source in _LAYOUT else 'its name'}"
        )
        out.append((entry.uri or entry.relative, f"{why}; expected {shown}"))
    return out


def files_for_day(landing: Location, source: str, day: date) -> list[LandingFile]:
    """The source's files of one landing day; grouped once per `Landing`, so a load of many days
    does not go over every file of the source for each day."""
    where = Landing.of(landing)
    by_day = where.derived.get(("by_day", source))
    if by_day is None:
        by_day = where.derived[("by_day", source)] = {}
        for f in iter_landing_files(where, source):
            by_day.setdefault(f.day, []).append(f)
    return list(by_day.get(day, []))


def landing_days(landing: Location) -> list[date]:
    """All landing days present for any source, sorted."""
    where = Landing.of(landing)
    days = {f.day for source in SOURCES for f in iter_landing_files(where, source)}
    return sorted(days)


def landing_fingerprints(landing: Location, days: set[str]) -> dict[str, str]:
    """Per landing day in `days` (ISO dates): a hash of its files' names, sizes and versions.

    The landing sensor compares these between ticks: a day whose hash changed has new or changed
    files. The version is the listing's (a local file's mtime in ns, an object's ETag), so an object
    is never looked up on its own; for local files the hashed text is what it was before objects
    were supported, so a sensor's cursor stays valid across the upgrade.
    """
    where = Landing.of(landing)
    current: dict[str, list[str]] = {}
    for source in SOURCES:
        for f in iter_landing_files(where, source):
            day = f.day.isoformat()
            if day in days:  # today is not a partition until it has ended: not seen yet
                current.setdefault(day, []).append(f"{f.relative}:{f.size}:{f.version}")
    return {
        day: hashlib.sha1("\n".join(sorted(files)).encode()).hexdigest() for day, files in current.items()
    }
