"""Where the exports land: a local folder, or a prefix in an object store (`s3://bucket/prefix`, `gs://…`).

Why one small type for both: the loader, the sensor and the partitions need the same things of a
landing location — list a source's files with their size and version, and read one — and Segment's
and RudderStack's S3 destinations write exactly the layout the loader reads (docs/data-contracts.md,
section 1), so an export bucket is read in place instead of being copied down first. Which landing
day a file belongs to is decided from its relative path alone (`files.py`), the same for both.

- A local folder keeps its fast path: one directory walk per source with one `stat` per file, files
  read with `Path.read_bytes`; fsspec is not even imported.
- An object store is read through fsspec (`s3fs` for `s3://`, `gcsfs` for `gs://`), not DuckDB's
  httpfs: that extension is downloaded when first used, which a deployment without access to the
  extension repository cannot do, and the loader reads the bytes itself anyway (`inflate.py`).
  An object is read whole, in one GET, as a local file is read whole: the inflater's fault
  handling works on the compressed bytes in memory (a 1 GiB cap applies to what they inflate to).
- A listing is taken once per `Landing` and kept: a load of many days lists each source once
  (before, the 30-day demo walked the folders 180 times, once per day and source). The sensor and
  the command line make a new `Landing` each time, and fsspec's listings cache is off, so nothing
  long-lived sees a stale listing; the filesystem object itself is kept per process (`_filesystem`).
- Credentials and endpoint: the standard AWS environment, as botocore reads it (AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 /
  AWS_ENDPOINT_URL, an instance or task role). botocore reads AWS_REGION only on Lambda, so it is
  passed as the region here when AWS_DEFAULT_REGION is unset. Nothing here logs or stores them.
- Any failure to list or read (no credentials, a wrong key, no such bucket, access denied, no
  network, a missing package) is one `LandingError` line naming the location and the likely fix.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

# scheme -> (the fsspec package that reads it, how to install it)
REMOTE_SCHEMES: dict[str, tuple[str, str]] = {
    "s3": ("s3fs", "pip install 'onboarding-engine[s3]'"),
    "gs": ("gcsfs", "pip install gcsfs"),
    "gcs": ("gcsfs", "pip install gcsfs"),
}
_ERROR_TEXT_LIMIT = 300


class LandingError(RuntimeError):
    """The landing location cannot be listed or read; the message is one line naming it and the fix."""


def is_uri(location: object) -> bool:
    """True for an object-store location (`scheme://…`); a `file://` URI is a local folder."""
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


@dataclass(frozen=True)
class Entry:
    """One file (or object) below one of a source's folders, before it is placed in a landing day."""

    relative: str  # the path below the landing location, /-separated: "segment/segment-logs/…/x.gz"
    size: int
    version: str  # the modification time in ns for a local file, the ETag (or generation) of an object
    path: Path | None  # the local file; None for an object
    uri: str | None  # the object's URI; None for a local file
    modified: float | None = None  # when it was last written (epoch seconds), if the listing says

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.relative.split("/"))


@dataclass(frozen=True)
class LandingFile:
    """A landing file placed in its landing day (`files.py`), readable wherever it lives."""

    source: str
    day: date
    path: Path | None  # the local file; None for an object in a bucket
    relative: str  # the path below the landing location, /-separated
    size: int = 0
    version: str = ""
    uri: str | None = None  # the object's URI (s3://bucket/key); None for a local file
    modified: float | None = None  # when it was last written (epoch seconds), from the listing
    landing: Landing | None = field(default=None, compare=False, repr=False)

    @property
    def file(self) -> str:
        """The file as lineage records it (`_file` of the raw tables, `raw.quarantine`): the path
        below the landing folder for a local file, the object's full URI for an object."""
        return self.uri or self.relative

    @property
    def name(self) -> str:
        return self.relative.rsplit("/", 1)[-1]

    def read_bytes(self) -> bytes:
        if self.path is not None:
            return self.path.read_bytes()
        if self.landing is None or self.uri is None:
            raise LandingError(f"{self.relative}: an object listed without its landing location")
        return self.landing.read_object(self.uri)


class Landing:
    """A landing location with its listings, taken once per folder (see the module docstring)."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        text = os.fspath(location)
        self.scheme: str | None = None
        self.path: Path | None = None
        self.root = ""  # bucket/prefix of an object store, without the scheme
        if is_uri(text):
            scheme, rest = text.split("://", 1)
            self.scheme = scheme.lower()
            self.root = rest.strip("/")
            if self.scheme not in REMOTE_SCHEMES:
                raise LandingError(
                    f"ONBOARDING_LANDING={text}: {scheme}:// is not supported; use a local folder, "
                    "s3://bucket/prefix or gs://bucket/prefix"
                )
            if not self.root:
                raise LandingError(f"ONBOARDING_LANDING={text}: the URI names no bucket")
        else:
            self.path = Path(text.removeprefix("file://"))
        self._listings: dict[str, list[Entry]] = {}
        self._fs: Any = None
        self.derived: dict[
            object, Any
        ] = {}  # what callers compute from the listings (files.py: files by day)

    @classmethod
    def of(cls, location: Landing | str | os.PathLike[str]) -> Landing:
        return location if isinstance(location, Landing) else cls(location)

    @property
    def remote(self) -> bool:
        return self.scheme is not None

    def __str__(self) -> str:
        return f"{self.scheme}://{self.root}" if self.remote else str(self.path)

    def __repr__(self) -> str:
        return f"Landing({str(self)!r})"

    def entries(self, folder: str) -> list[Entry]:
        """Every file below `<landing>/<folder>/` (a source's folder, `files.py`), sorted by path;
        listed once per `Landing`."""
        if folder not in self._listings:
            self._listings[folder] = self._list_remote(folder) if self.remote else self._list_local(folder)
        return self._listings[folder]

    # -- local folders ---------------------------------------------------------------------------

    def _list_local(self, folder: str) -> list[Entry]:
        """A walk with one `stat` per file (size and mtime for the sensor's fingerprint).

        Like the `glob` it replaces, it follows symbolic links (a linked folder is walked once) and
        skips what it cannot read.
        """
        assert self.path is not None
        out: list[Entry] = []
        seen: set[str] = set()
        stack: list[tuple[Path, tuple[str, ...]]] = [(self.path / folder, (folder,))]
        while stack:
            here, parts = stack.pop()
            try:
                scan = os.scandir(here)
            except OSError:  # missing, not a folder, or unreadable
                continue
            with scan:
                for item in scan:
                    try:
                        if item.is_dir():
                            if item.is_symlink():
                                real = os.path.realpath(item.path)
                                if real in seen:
                                    continue
                                seen.add(real)
                            stack.append((Path(item.path), (*parts, item.name)))
                        elif item.is_file():
                            st = item.stat()
                            relative = "/".join((*parts, item.name))
                            out.append(
                                Entry(
                                    relative,
                                    st.st_size,
                                    str(st.st_mtime_ns),
                                    Path(item.path),
                                    None,
                                    st.st_mtime,
                                )
                            )
                    except OSError:  # gone between the listing and the stat
                        continue
        out.sort(key=lambda entry: entry.parts)  # Path order, as the glob's `sorted` gave
        return out

    # -- object stores ---------------------------------------------------------------------------

    def _filesystem(self) -> Any:
        if self._fs is None:
            assert self.scheme is not None
            self._fs = _filesystem(self.scheme, str(self))
        return self._fs

    def _list_remote(self, folder: str) -> list[Entry]:
        base = f"{self.root}/{folder}"
        try:
            # One listing of keys starting with "<prefix>/<folder>/"; as a `prefix`, not a path, so
            # that an absent folder costs no extra HEAD request (which s3fs makes for a path, and
            # which needs s3:GetObject).
            found = self._filesystem().find(self.root, prefix=f"{folder}/", detail=True)
        except LandingError:
            raise
        except Exception as exc:
            raise self._error(exc, f"cannot list {self.scheme}://{base}/") from None
        out: list[Entry] = []
        for name, info in found.items():
            if info.get("type") == "directory" or name.endswith("/"):  # a console's folder marker
                continue
            relative = name[len(self.root) + 1 :]
            if not relative.startswith(f"{folder}/"):
                continue
            out.append(
                Entry(
                    relative,
                    int(info.get("size") or 0),
                    _version(info),
                    None,
                    f"{self.scheme}://{name}",
                    _modified(info),
                )
            )
        out.sort(key=lambda entry: entry.parts)
        return out

    def read_object(self, uri: str) -> bytes:
        try:
            return self._filesystem().cat_file(uri.split("://", 1)[1])
        except LandingError:
            raise
        except Exception as exc:
            raise self._error(exc, f"cannot read {uri}") from None

    def _error(self, exc: BaseException, what: str) -> LandingError:
        """One line for a failed listing or read: what failed, the store's own words, the likely fix."""
        text = " ".join(str(exc).split())[:_ERROR_TEXT_LIMIT] or type(exc).__name__
        kind = type(exc).__name__
        if kind == "NoCredentialsError":
            hint = (
                "no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), "
                "or run where an instance or task role applies"
            )
        elif isinstance(exc, PermissionError):
            hint = (
                f"access denied ({text}): check the credentials; they need s3:ListBucket on the bucket and "
                "s3:GetObject on its objects"
            )
        elif isinstance(exc, FileNotFoundError):
            hint = f"not found ({text}): check the bucket name, and AWS_ENDPOINT_URL if you use another store"
        elif "Endpoint" in kind or "Connect" in kind or isinstance(exc, ConnectionError | TimeoutError):
            hint = f"the store cannot be reached ({text}): check the network and AWS_ENDPOINT_URL"
        else:
            hint = f"{kind}: {text}"
        return LandingError(f"ONBOARDING_LANDING={self}: {what}: {hint}")


_FILESYSTEMS: dict[tuple[str, str], Any] = {}
_FILESYSTEMS_LOCK = threading.Lock()
_CLOUD_ENV = ("AWS_", "BOTO_", "GOOGLE_", "GCSFS_", "CLOUDSDK_")


def _filesystem(scheme: str, location: str) -> Any:
    """The fsspec filesystem of `scheme` for the current cloud environment, built once per process.

    Why kept: building one (botocore's session, service model and client) takes 0.5-2 s, which the
    sensor would pay on every tick. Why not fsspec's own instance cache: it is keyed by the
    constructor's arguments, not by the environment the credentials and endpoint come from, so a
    changed AWS_* variable would be ignored; this one is keyed by a hash of those variables (the
    values are not kept). Listings are never cached (`use_listings_cache=False`): a reused
    filesystem always lists the bucket anew.
    """
    package, install = REMOTE_SCHEMES[scheme]
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith(_CLOUD_ENV))
    key = (scheme, hashlib.sha256(repr(settings).encode()).hexdigest())
    with _FILESYSTEMS_LOCK:
        if key not in _FILESYSTEMS:
            try:
                import fsspec

                cls = fsspec.get_filesystem_class(scheme)
            except ImportError:
                raise LandingError(
                    f"ONBOARDING_LANDING={location}: reading {scheme}:// needs the {package} package ({install})"
                ) from None
            options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
            if package == "s3fs":
                options.update(s3_options(os.environ))
            _FILESYSTEMS[key] = cls(**options)
        return _FILESYSTEMS[key]


def s3_options(env: Mapping[str, str]) -> dict[str, Any]:
    """What s3fs needs beyond what botocore reads from the environment by itself: the region from
    AWS_REGION when AWS_DEFAULT_REGION is unset (botocore reads AWS_REGION only on Lambda).

    The endpoint is not passed: botocore reads AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL itself (and
    then addresses buckets by path, as MinIO and other stores want), as do the credentials.
    """
    region = (env.get("AWS_REGION") or "").strip()
    if region and not (env.get("AWS_DEFAULT_REGION") or "").strip():
        return {"client_kwargs": {"region_name": region}}
    return {}


def _modified(info: Mapping[str, Any]) -> float | None:
    """An object's last write as epoch seconds: S3's LastModified, GCS's `updated`."""
    value = info.get("LastModified") or info.get("updated") or info.get("mtime")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, int | float) else None


def _version(info: Mapping[str, Any]) -> str:
    """What changes when an object is replaced: its ETag (S3), generation (GCS), else its time."""
    for key in ("ETag", "etag", "generation", "LastModified", "updated", "mtime"):
        if info.get(key):
            return str(info[key]).strip('"')
    return ""
