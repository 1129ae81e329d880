"""Exports read in place from S3 (ingest/landing.py), against moto's S3 server on loopback.

Real HTTP to a real S3 API (moto's server mode, with its IAM policy checks switched on): the exports
of a small generated landing are uploaded under a prefix, keys as the exporters write them (Segment's
`segment-logs/` right under the prefix with epoch-ms day folders, RudderStack's MM-DD-YYYY folders,
gzip files), plus a truncated gzip object and an object in no day's place. The load child reads them with the credentials and endpoint from the
standard AWS environment, and the raw tables must equal a load of the same files from a folder,
except that lineage names each object by its URI. The reader's IAM user has exactly the permissions
docs/deploy.md asks for (s3:ListBucket on the bucket, s3:GetObject on its objects).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import duckdb
import pytest

from dagster_project.core.settings import Settings
from dagster_project.demo import generate
from dagster_project.ingest import landing as landing_module
from dagster_project.ingest.files import (
    SOURCES,
    Landing,
    LandingError,
    iter_landing_files,
    landing_days,
    landing_fingerprints,
    unplaced_files,
)
from dagster_project.ingest.load import read_day
from dagster_project.ingest.stats import LoadStats, UnplacedFile
from dagster_project.ingest.worker import run_loads

moto_server = pytest.importorskip("moto.server")

BUCKET = "acme-exports"
PREFIX = "analytics/prod"
URI = f"s3://{BUCKET}/{PREFIX}"
END = date(2026, 11, 3)
TRUNCATED = "segment-logs/src9/1793577600000/1793600000000.cut.gz"  # 2026-11-02, Segment's bucket layout
UNPLACED = "rudderstack/rudder-logs/src9/not-a-day/1793600000000.src9.json.gz"


class S3:
    """The moto server, the exports uploaded, and the IAM users' keys."""

    def __init__(self, endpoint: str, folder: Path, keys: dict[str, tuple[str, str]]) -> None:
        self.endpoint, self.folder, self.keys = endpoint, folder, keys

    def client(self, user: str = "writer"):
        key, secret = self.keys[user]
        return boto3.client(
            "s3",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
        )


def _iam_user(iam, name: str, statements: list[tuple[str, str]]) -> tuple[str, str]:
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements],
    }
    iam.put_user_policy(UserName=name, PolicyName="exports", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        folder = tmp_path_factory.mktemp("s3_landing") / "landing"
        generate(folder, users=30, days=3, seed=5, end_date=END)
        (folder / "manifest.json").unlink()  # the generator's, not an export
        # Segment's files as its S3 destination writes them, at the root of the location (it has no
        # prefix setting); RudderStack's in our rudderstack/ folder: both layouts are read.
        (folder / "segment" / "segment-logs").rename(folder / "segment-logs")
        (folder / "segment").rmdir()
        segment_day = next((folder / "segment-logs").glob("*/1793577600000/*.gz"))
        whole = segment_day.read_bytes()
        for relative, data in ((TRUNCATED, whole[: len(whole) // 2]), (UNPLACED, gzip.compress(b"{}\n"))):
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data)

        admin = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup", "region_name": "us-east-1"}
        iam = boto3.client("iam", endpoint_url=endpoint, **admin)
        keys = {
            "reader": _iam_user(
                iam,
                "reader",
                [("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"), ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")],
            ),
            "lister": _iam_user(iam, "lister", [("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")]),
            "writer": _iam_user(iam, "writer", [("s3:*", "*")]),
        }
        setup = boto3.client("s3", endpoint_url=endpoint, **admin)
        setup.create_bucket(Bucket=BUCKET)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            setup.put_object(
                Bucket=BUCKET, Key=f"{PREFIX}/{path.relative_to(folder).as_posix()}", Body=path.read_bytes()
            )
        # From here on every request is checked against the IAM users' policies.
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).read()
        yield S3(endpoint, folder, keys)
    finally:
        server.stop()


@pytest.fixture
def aws_env(s3: S3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The standard AWS environment of a deployment, as the reader; nothing from this machine's own
    AWS configuration. Returns a function to switch user or override variables."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # botocore alone would ignore it (landing.s3_options)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("ONBOARDING_LANDING", f"{URI}/")

    def use(user: str = "reader", **overrides: str | None) -> None:
        key, secret = s3.keys[user]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        for name, value in overrides.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    use()
    return use


RAW_SOURCES = {  # raw table -> its sources, as the ingest assets load them (assets/ingest.py)
    "segment_events": ("segment", "rudderstack"),
    "mixpanel_events": ("mixpanel",),
    "signups": ("signups",),
    "support_tickets": ("tickets",),
    "nps_responses": ("nps",),
}


def _items(days: list[date]) -> list[tuple[str, date]]:
    """Every (source, day) in the assets' order: per raw table, day by day."""
    return [(source, day) for sources in RAW_SOURCES.values() for day in days for source in sources]


def _rows(db: Path, table: str, uri_prefix: str = "") -> list[tuple]:
    """A table's rows, load times left out, files named relative to the landing location."""
    with duckdb.connect(str(db), read_only=True) as con:
        columns = [
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
                "and data_type not like 'TIMESTAMP%' order by ordinal_position",
                [table],
            ).fetchall()
        ]
        rows = con.execute(f"select {', '.join(columns)} from raw.{table}").fetchall()
    if "_file" in columns:
        i = columns.index("_file")
        rows = [(*r[:i], r[i].removeprefix(uri_prefix), *r[i + 1 :]) for r in rows]
    return sorted(rows, key=repr)


def test_an_s3_landing_loads_the_same_rows_as_a_folder_with_object_uris(s3: S3, aws_env, tmp_path: Path):
    settings = Settings.from_env()
    assert settings.landing == URI  # kept as given, trailing slash dropped
    days = landing_days(settings.landing)
    assert days == landing_days(s3.folder) == [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]

    items = _items(days)
    from_s3 = list(run_loads(tmp_path / "s3.duckdb", settings.landing, items))
    from_folder = list(run_loads(tmp_path / "folder.duckdb", s3.folder, items))

    # The same counts per item; the unplaced object is reported under its URI.
    def counts(results: list) -> list[tuple]:
        return [
            (s.source, s.day, s.files, s.lines, s.loaded, s.duplicates, s.quarantined)
            for s in results
            if isinstance(s, LoadStats)
        ]

    assert counts(from_s3) == counts(from_folder)
    assert sum(s.loaded for s in from_s3 if isinstance(s, LoadStats)) > 400
    assert [u.file for u in from_s3 if isinstance(u, UnplacedFile)] == [f"{URI}/{UNPLACED}"]
    assert [u.file for u in from_folder if isinstance(u, UnplacedFile)] == [UNPLACED]

    for table in (*RAW_SOURCES, "quarantine", "load_log"):
        s3_rows = _rows(tmp_path / "s3.duckdb", table, uri_prefix=f"{URI}/")
        assert s3_rows == _rows(tmp_path / "folder.duckdb", table), table
    with duckdb.connect(str(tmp_path / "s3.duckdb"), read_only=True) as con:
        files = {
            f
            for (f,) in con.execute(
                "select distinct _file from raw.segment_events union select distinct _file from raw.quarantine"
            ).fetchall()
        }
        reasons = dict(
            con.execute(
                "select _file, reason from raw.quarantine where _file in (?, ?)",
                [f"{URI}/{TRUNCATED}", f"{URI}/{UNPLACED}"],
            ).fetchall()
        )
    assert files and all(f.startswith(f"{URI}/") for f in files)
    assert any("/segment-logs/" in f for f in files) and any("/rudder-logs/" in f for f in files)
    assert reasons[f"{URI}/{TRUNCATED}"].startswith("truncated_gzip:")
    assert reasons[f"{URI}/{UNPLACED}"].startswith("unplaced_file:")


def test_the_sensor_fingerprint_changes_when_an_object_lands(s3: S3, aws_env):
    days = {"2026-11-01", "2026-11-02", "2026-11-03"}
    before = landing_fingerprints(URI, days)
    assert set(before) == days
    # The listing carries what a local stat would give (the freshness check reads `modified`).
    listed = list(iter_landing_files(URI, "segment"))
    assert listed and all(f.path is None and f.size > 0 and f.version and f.modified for f in listed)
    assert abs(max(f.modified for f in listed) - time.time()) < 3600
    writer = s3.client("writer")
    key = f"{PREFIX}/nps/2026-11-02-2.jsonl"
    writer.put_object(Bucket=BUCKET, Key=key, Body=b'{"response_id": "late"}\n')
    try:
        after = landing_fingerprints(URI, days)
        assert {d for d in days if after[d] != before[d]} == {"2026-11-02"}
        # The same key replaced by other bytes: a new ETag, a new fingerprint.
        writer.put_object(Bucket=BUCKET, Key=key, Body=b'{"response_id": "later"}\n')
        assert landing_fingerprints(URI, days)["2026-11-02"] not in (
            before["2026-11-02"],
            after["2026-11-02"],
        )
    finally:
        writer.delete_object(Bucket=BUCKET, Key=key)
    assert landing_fingerprints(URI, days) == before


@pytest.mark.parametrize(
    ("user", "change", "expected"),
    [
        ("reader", {"AWS_SECRET_ACCESS_KEY": "wrong-secret"}, r"cannot list s3://acme-exports/analytics/prod/\w+/: access denied"),
        ("reader", {"AWS_ACCESS_KEY_ID": "AKIANOSUCHKEY0000000"}, r"access denied \(The AWS Access Key Id you provided does not"),
        ("reader", {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "no credentials found: set AWS_ACCESS_KEY_ID"),
        # as a user who may list any bucket (the reader would be denied before the bucket is looked up)
        ("writer", {"ONBOARDING_LANDING": "s3://no-such-bucket/x"}, r"no-such-bucket/x/\w+/: not found .*check the bucket name"),
    ],
    ids=["wrong-secret", "unknown-key", "no-credentials", "missing-bucket"],
)
def test_a_landing_that_cannot_be_listed_is_one_line(aws_env, user: str, change: dict, expected: str):
    aws_env(user, **change)
    with pytest.raises(LandingError, match=expected) as caught:
        landing_days(Settings.from_env().landing)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("ONBOARDING_LANDING=s3://")
    assert "wrong-secret" not in message  # the secret never reaches a message


def test_listing_without_get_object_fails_the_read_in_one_line_and_the_load_child_says_so(
    s3: S3, aws_env, tmp_path: Path
):
    """s3:ListBucket alone lists the days but cannot read a file: both permissions are needed."""
    aws_env("lister")
    landing = Landing(URI)
    assert landing_days(landing)[0] == date(2026, 11, 1)
    with pytest.raises(LandingError, match=r"cannot read s3://acme-exports/.+: access denied") as caught:
        read_day(landing, "nps", date(2026, 11, 1))
    assert "\n" not in str(caught.value)
    # Through the ingest's child process: the same one line, raised in the parent (not a traceback).
    with pytest.raises(
        LandingError, match=r"^ONBOARDING_LANDING=s3://acme-exports/analytics/prod: cannot read"
    ):
        list(run_loads(tmp_path / "w.duckdb", URI, [("nps", date(2026, 11, 1))]))


def test_unsupported_schemes_and_missing_packages_are_one_line(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(LandingError, match=r"ftp:// is not supported; use a local folder, s3://"):
        Landing("ftp://host/exports")
    with pytest.raises(LandingError, match="names no bucket"):
        Landing("s3://")
    import fsspec

    monkeypatch.setattr(landing_module, "_FILESYSTEMS", {})  # none built before is reused
    if importlib.util.find_spec("gcsfs") is None:  # gcsfs is not a dependency: the real message
        with pytest.raises(
            LandingError, match=r"^ONBOARDING_LANDING=gs://b/p: reading gs:// needs the gcsfs package"
        ):
            landing_days("gs://b/p")

    def absent(protocol: str):
        raise ImportError(f"Install s3fs to access {protocol}")

    monkeypatch.setattr(fsspec, "get_filesystem_class", absent)
    with pytest.raises(
        LandingError,
        match=r"^ONBOARDING_LANDING=s3://b/p: reading s3:// needs the s3fs package \(pip install 'onboarding-engine\[s3\]'\)$",
    ):
        landing_days("s3://b/p")


def test_a_file_uri_is_the_local_folder(s3: S3):
    local = Landing(f"file://{s3.folder}")
    assert not local.remote and local.path == s3.folder
    for source in SOURCES:
        assert [(f.day, f.path, f.file) for f in iter_landing_files(local, source)] == [
            (f.day, f.path, f.relative) for f in iter_landing_files(s3.folder, source)
        ]


def test_the_exporters_own_bucket_layouts_are_placed_like_ours(tmp_path: Path):
    """`segment-logs/…` and `rudder-logs/…` right under the location (as the S3 destinations write at
    a bucket's root) hold Segment's and RudderStack's files too, beside our segment/ and rudderstack/."""
    files = {
        "segment-logs/src1/1793577600000/1.a.gz": ("segment", date(2026, 11, 2)),
        "segment/segment-logs/src1/1793664000000/2.b.gz": ("segment", date(2026, 11, 3)),
        "rudder-logs/src2/11-01-2026/3.src2.json.gz": ("rudderstack", date(2026, 11, 1)),
        "segment-logs/src1/stray.gz": None,
        "rudder-logs/src2/no-day/4.src2.json.gz": None,
    }
    for relative in files:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"")
    placed = {f.relative: (f.source, f.day) for s in SOURCES for f in iter_landing_files(tmp_path, s)}
    assert placed == {k: v for k, v in files.items() if v}
    assert unplaced_files(tmp_path, "segment") == [
        ("segment-logs/src1/stray.gz",
         "at folder depth 2, not 3; expected segment-logs/<source-id>/<epoch-ms or YYYY-MM-DD>/<file>")
    ]
    assert unplaced_files(tmp_path, "rudderstack") == [
        ("rudder-logs/src2/no-day/4.src2.json.gz",
         "no readable date in its folder; expected rudder-logs/<source-id>/<MM-DD-YYYY>/<file>")
    ]
