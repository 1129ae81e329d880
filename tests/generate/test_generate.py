"""Tests of the export generator against an independent reader of the landing files.

Small sizes keep the suite fast; the manifest must match what a contract-following loader would
count exactly (lines, unique, duplicates, malformed per reason, per day), and the same seed must
give byte-identical files.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dagster_project.demo import generate
from dagster_project.demo.catalog import EVENT_NAMES, MILESTONES
from dagster_project.demo.experiments import EXPERIMENTS, assign_variant, bucket
from dagster_project.demo.malformed import APPLICABLE

from .landing_reader import Bad, Landing, classify, gunzip_members, landing_files, read_landing

END = date(2026, 11, 30)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Landing]:
    """400 users over 12 days with the default malformed rate: every planted kind, still fast."""
    out = tmp_path_factory.mktemp("small")
    manifest = generate(out, users=400, days=12, seed=7, end_date=END)
    return out, manifest, read_landing(out)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The default demo size (2000 users, 30 days); timed as a smoke check, never asserted.
    Exact accounting is checked on the small run; here lines are grepped, not all parsed (speed)."""
    out = tmp_path_factory.mktemp("demo")
    t0 = time.perf_counter()
    manifest = generate(out, users=2000, days=30, end_date=END)  # the former default size
    secs = time.perf_counter() - t0
    print(f"\ngenerate(users=2000, days=30): {secs:.2f}s, {manifest['unified_events']} events")
    return out, manifest


@functools.cache
def _texts(root: Path) -> dict[str, list[bytes]]:
    """Decompressed lines per source, read once per output directory."""
    out: dict[str, list[bytes]] = {}
    for _day, _rel, source, path in landing_files(root):
        data = path.read_bytes()
        text = gunzip_members(data)[0] if path.suffix == ".gz" else data
        out.setdefault(source, []).extend(text.split(b"\n"))
    return out


def _grep(root: Path, sources: tuple[str, ...], *markers: bytes) -> list[dict[str, Any]]:
    """JSON objects of the lines (any file of ``sources``) containing one of ``markers``."""
    out = []
    for source in sources:
        for line in _texts(root).get(source, []):
            if any(m in line for m in markers):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    out.append(obj)
    return out


def _signup_ids(root: Path) -> list[str]:
    """User ids of the signup lines a contract-following loader keeps (malformed ones excluded)."""
    ids = set()
    for day, _rel, source, path in landing_files(root):
        if source != "signups":
            continue
        for raw in path.read_bytes().split(b"\n"):
            if raw.strip():
                with contextlib.suppress(Bad):
                    ids.add(classify("signups", raw, day)[0][0])
    return sorted(ids)


def _file_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def _assert_manifest_matches(manifest: dict[str, Any], landing: Landing) -> None:
    for source, counts in landing.totals.items():
        m = manifest["sources"][source]
        assert {k: m[k] for k in ("files", "lines", "unique", "duplicates", "malformed")} == {
            "files": counts.files,
            "lines": counts.lines,
            "unique": counts.unique,
            "duplicates": counts.duplicates,
            "malformed": counts.malformed,
        }, source
        assert {k: v for k, v in m["malformed_by_reason"].items() if v} == dict(counts.by_reason), source
    zero = {"files": 0, "lines": 0, "unique": 0, "duplicates": 0, "malformed": 0}
    for day, row in manifest["by_day"].items():
        for source, expected in row.items():
            got = landing.by_day.get(day, {}).get(source)
            assert (got.as_day() if got else zero) == expected, (day, source)
    assert set(landing.by_day) <= set(manifest["by_day"])


def test_manifest_counts_match_independent_reader(small: tuple[Path, dict[str, Any], Landing]) -> None:
    _, manifest, landing = small
    _assert_manifest_matches(manifest, landing)


def test_manifest_cross_source_and_unified_counts(small: tuple[Path, dict[str, Any], Landing]) -> None:
    _, manifest, landing = small
    seg = [obj for _, _, obj in landing.rows["segment"] + landing.rows["rudderstack"]]
    by_type = Counter(obj["type"] for obj in seg)
    assert dict(by_type) == {k: v for k, v in manifest["segment_by_type"].items() if v}
    for source in ("segment", "rudderstack"):
        own = Counter(obj["type"] for _, _, obj in landing.rows[source])
        assert dict(own) == {k: v for k, v in manifest["sources"][source]["by_type"].items() if v}
    message_ids = {obj["messageId"] for obj in seg}
    mixpanel = [obj for _, _, obj in landing.rows["mixpanel"]]
    cross = sum(obj["properties"].get("$insert_id") in message_ids for obj in mixpanel)
    assert cross == manifest["cross_source_duplicates"] > 0
    events = by_type["track"] + by_type["page"] + len(mixpanel) - cross
    assert events == manifest["unified_events"]
    assert len(landing.rows["signups"]) == manifest["users_signed_up"] == 400
    assert sum(manifest["personas"].values()) == 400


def test_every_malformed_kind_is_planted_per_source(small: tuple[Path, dict[str, Any], Landing]) -> None:
    _, manifest, landing = small
    for source, kinds in APPLICABLE.items():
        for kind in kinds:
            assert landing.totals[source].by_reason[kind] >= 1, (source, kind)
        assert set(landing.totals[source].by_reason) <= set(kinds), source
    # ~malformed_rate overall on the big source, not a flood
    seg = manifest["sources"]["segment"]
    assert seg["malformed"] < 0.02 * seg["lines"]


def test_duplicates_of_every_planted_shape(small: tuple[Path, dict[str, Any], Landing]) -> None:
    root, manifest, landing = small
    for source in ("segment", "rudderstack", "mixpanel", "signups", "tickets", "nps"):
        assert landing.totals[source].duplicates >= 1, source
    # Segment redelivered into the next day's folder: a messageId in two different landing days.
    days_of: dict[str, set[date]] = {}
    for day, _source, obj in _gz_objects(root, ("segment", "rudderstack")):
        days_of.setdefault(obj.get("messageId"), set()).add(day)
    assert any(len(d) > 1 for d in days_of.values())
    # Some Segment calls are re-delivered through the RudderStack pipeline (same messageId).
    seg_ids = {obj["messageId"] for _, _, obj in landing.rows["segment"]}
    assert any(obj.get("messageId") in seg_ids for _, _, obj in _gz_objects(root, ("rudderstack",)))
    assert manifest["sources"]["signups"]["duplicates"] == landing.totals["signups"].duplicates


def _gz_objects(root: Path, sources: tuple[str, ...]) -> list[tuple[date, str, dict[str, Any]]]:
    """(landing day, source, object) for every JSON-object line of the complete gz files."""
    out = []
    for day, _rel, source, path in landing_files(root):
        if source not in sources:
            continue
        text, cut = gunzip_members(path.read_bytes())
        if cut:
            continue
        for line in text.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append((day, source, obj))
    return out


def test_truncated_gzip_accounting(small: tuple[Path, dict[str, Any], Landing]) -> None:
    _, manifest, landing = small
    assert {s for s, _, _ in landing.truncated} == {"segment", "rudderstack", "mixpanel"}
    for source, path, complete in landing.truncated:
        text, cut = gunzip_members(path.read_bytes())
        assert cut
        *lines, tail = text.split(b"\n")
        assert len(lines) == complete and tail  # a non-empty incomplete tail: one truncated_gzip row
        with pytest.raises(ValueError):
            json.loads(tail)
        tail.decode("utf-8")  # valid UTF-8: nothing but truncated_gzip can describe it
        # every recovered complete line is an exact copy of a line loaded from a regular file
        table = "rudderstack" if source == "rudderstack" else source
        loaded = {json.dumps(obj, sort_keys=True) for _, _, obj in landing.rows[table]}
        for line in lines:
            assert json.dumps(json.loads(line), sort_keys=True) in loaded
        if source == "mixpanel":
            assert path.name.endswith("-9.jsonl.gz")
    with pytest.raises((EOFError, OSError)):
        gzip.decompress(landing.truncated[0][1].read_bytes())
    assert manifest["sources"]["segment"]["malformed_by_reason"]["truncated_gzip"] >= 1


def test_event_names_and_layout_follow_the_contract(small: tuple[Path, dict[str, Any], Landing]) -> None:
    root, manifest, landing = small
    names = {
        obj["event"]
        for s in ("segment", "rudderstack")
        for _, _, obj in landing.rows[s]
        if obj["type"] == "track"
    }
    names |= {obj["event"] for _, _, obj in landing.rows["mixpanel"]}
    assert names <= set(EVENT_NAMES)
    assert set(MILESTONES) | {"user.signed_up", "user.logged_in", "user.ran_query"} <= names
    assert (root / "segment" / "segment-logs" / manifest["source_ids"]["segment"]).is_dir()
    folders = {
        p.name for p in (root / "segment" / "segment-logs" / manifest["source_ids"]["segment"]).iterdir()
    }
    assert all(f.isdigit() and int(f) % 86_400_000 == 0 for f in folders)
    rs = root / "rudderstack" / "rudder-logs" / manifest["source_ids"]["rudderstack"]
    assert all(len(p.name) == 10 and p.name[2] == "-" for p in rs.iterdir())
    assert all(p.name.endswith(f".{manifest['source_ids']['rudderstack']}.json.gz") for p in rs.rglob("*.gz"))
    for _, day, obj in landing.rows["segment"]:
        received = datetime.fromisoformat(obj["receivedAt"].replace("Z", "+00:00"))
        assert received.date() in (day, day - timedelta(days=1))  # next-day redelivery keeps receivedAt
        assert obj["receivedAt"] > obj["sentAt"]
    mp_ms = [obj["properties"]["time"] > 10**11 for _, _, obj in landing.rows["mixpanel"]]
    assert 0.05 < sum(mp_ms) / len(mp_ms) < 0.2
    providers = Counter(
        "auth0" if "user" in o else "supabase" if "record" in o else "firebase"
        for _, _, o in landing.rows["signups"]
    )
    assert set(providers) == {"auth0", "supabase", "firebase"}


def test_identity_stitching_material(small: tuple[Path, dict[str, Any], Landing]) -> None:
    _, _, landing = small
    seg = [obj for _, _, obj in landing.rows["segment"]]
    anon_pages = [o for o in seg if o["type"] == "page" and "userId" not in o]
    identifies = [o for o in seg if o["type"] == "identify"]
    assert anon_pages and identifies
    assert all(o.get("anonymousId") and o.get("userId") and isinstance(o["traits"], dict) for o in identifies)
    stitched = {o["anonymousId"] for o in identifies}
    assert any(o["anonymousId"] in stitched for o in anon_pages)  # pre-signup browsing
    assert any(o["anonymousId"] not in stitched for o in anon_pages)  # visitors who never sign up
    signup_ids = set()
    for _, _, o in landing.rows["signups"]:
        signup_ids.add(
            o["user"]["user_id"] if "user" in o else o["record"]["id"] if "record" in o else o["uid"]
        )
    assert {o["userId"] for o in seg if "userId" in o} <= signup_ids


def test_same_seed_is_byte_identical(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", users=120, days=5, seed=3, end_date=END)
    b = generate(tmp_path / "b", users=120, days=5, seed=3, end_date=END)
    assert a == b
    assert _file_digests(tmp_path / "a") == _file_digests(tmp_path / "b")
    generate(tmp_path / "c", users=120, days=5, seed=4, end_date=END)
    assert _file_digests(tmp_path / "a") != _file_digests(tmp_path / "c")
    # rerunning into a generator-made directory replaces it cleanly
    again = generate(tmp_path / "a", users=120, days=5, seed=3, end_date=END)
    assert again == a and _file_digests(tmp_path / "a") == _file_digests(tmp_path / "b")


def test_refuses_to_overwrite_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        generate(tmp_path, users=10, days=2, end_date=END)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_end_date_defaults_to_yesterday_utc(tmp_path: Path) -> None:
    manifest = generate(tmp_path, users=15, days=3)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert manifest["end_date"] == yesterday.isoformat()
    assert manifest["start_date"] == (yesterday - timedelta(days=2)).isoformat()
    assert sorted(manifest["by_day"]) == [(yesterday - timedelta(days=i)).isoformat() for i in (2, 1, 0)]


def test_zero_malformed_rate_plants_none(tmp_path: Path) -> None:
    manifest = generate(tmp_path, users=60, days=4, malformed_rate=0.0, end_date=END)
    landing = read_landing(tmp_path)
    _assert_manifest_matches(manifest, landing)
    assert all(c.malformed == 0 for c in landing.totals.values())
    assert not landing.truncated


def test_experiment_bucketing_and_planted_effect(demo: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = demo
    exp = EXPERIMENTS["welcome_checklist_v2"]
    uid = "auth0|0123456789abcdef01234567"
    expected = int(hashlib.md5(f"welcome_checklist_v2:{uid}".encode()).hexdigest()[:8], 16) / 16**8
    assert bucket(exp.experiment_id, uid) == expected
    assert assign_variant(exp.experiment_id, uid) == ("control" if expected < 0.5 else "treatment")
    ids = _signup_ids(root)
    assert len(ids) == 2000
    variants = Counter(assign_variant(exp.experiment_id, u) for u in ids)
    assert dict(variants) == manifest["experiments"]["welcome_checklist_v2"]
    # completion measured from the events themselves, each user counted once
    done = {o.get("userId") for o in _grep(root, ("segment", "rudderstack"), b'"user.completed_tutorial"')}
    rate = {v: sum(1 for u in ids if assign_variant(exp.experiment_id, u) == v and u in done) / variants[v]
            for v in variants}  # fmt: skip
    assert 0.08 <= rate["treatment"] - rate["control"] <= 0.25, rate


def test_demo_realism(demo: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = demo
    seg = ("segment", "rudderstack")
    pages = _grep(root, seg, b'"/settings/billing')
    paths = Counter(o["properties"]["path"] for o in pages if o.get("type") == "page")
    assert paths["/settings/billing"] and paths["/settings/billing/downgrade"]
    assert _grep(root, seg, b'"subscription.cancelled"')
    # milestone repeats planted (scoring must count each milestone once)
    tut = Counter(
        o["userId"] for o in _grep(root, seg, b'"user.completed_tutorial"') if o.get("type") == "track"
    )
    assert max(tut.values()) >= 2
    # big ecommerce imports (day-14 case-study rule) and fast first queries (advanced difficulty)
    imports = _grep(root, seg, b'"user.imported_first_data"')
    assert any(o["properties"]["records_imported"] > 10_000 for o in imports if o.get("type") == "track")
    signed = {
        o["userId"]: o["timestamp"] for o in _grep(root, seg, b'"user.signed_up"') if o.get("type") == "track"
    }
    first_q = [o for o in _grep(root, seg, b'"user.ran_first_query"') if o.get("type") == "track"]
    fast = {o["userId"] for o in first_q if _secs(o["timestamp"]) - _secs(signed[o["userId"]]) < 300}
    assert len(fast) > 50
    integrations = {o["properties"]["integration_name"] for o in _grep(root, seg, b'"user.created_integration"')
                    if o.get("type") == "track"}  # fmt: skip
    assert {"shopify", "salesforce", "hubspot", "snowflake", "stripe", "slack"} <= integrations
    # profile gaps: a missing utm_source is sometimes an absent key, sometimes null
    signups = _grep(root, ("signups",), b"{")
    metas = [o.get("user", {}).get("user_metadata") or o.get("record", {}).get("raw_user_meta_data")
             or o.get("customClaims") or {} for o in signups]  # fmt: skip
    assert any("utm_source" not in m for m in metas) and any(m.get("utm_source", "") is None for m in metas)
    tickets = _grep(root, ("tickets",), b'"status"')
    opened = {o["ticket_id"] for o in tickets if o.get("status") == "opened"}
    resolved = {o["ticket_id"] for o in tickets if o.get("status") == "resolved"}
    assert resolved < opened and len(opened - resolved) > 10 and len(resolved) > len(opened) / 2
    nps = [o for o in _grep(root, ("nps",), b'"survey"') if o.get("survey") in ("day_7", "day_30")]
    assert {o["survey"] for o in nps} == {"day_7", "day_30"}
    assert any(isinstance(o.get("score"), int) and o["score"] <= 6 and o.get("comment") for o in nps)
    assert manifest["personas"]["fast_adopter"] > 0 and len(manifest["personas"]) == 5
    assert (
        sum(manifest["experiments"]["welcome_checklist_v2"].values()) == manifest["users_signed_up"] == 2000
    )


def _secs(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
