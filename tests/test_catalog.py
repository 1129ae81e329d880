"""What an operator sees in the Dagster UI's catalog (issue 16, item 8).

- dbt's tests are asset checks of the step that runs them: a run evaluates the raw source tests (none
  left planned and shown "Skipped"), and no test is logged as a bare observation with a warning;
- an ingest partition's materialization carries its own day's counts, not the run's totals;
- a dry sync says so first: its `delivered_for_real` check warns and its first metadata line reads
  "DRY RUN - nothing sent";
- every asset has an owner and a stage tag, tables with emails or names are tagged `pii`, raw tables
  and marts have a freshness policy, dbt columns have types that match the warehouse, tables report
  `dagster/row_count`, and no description cites the origin workflow's section numbers.

The fast tests read the definitions; the slow ones read the events of the session's `onboarding run`
over two days (`tiny_run`: tests/conftest.py `cli_run`) or the session warehouse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from dagster import AssetCheckSeverity, AssetKey, materialize

from tests.conftest import pointed_at

ROOT = Path(__file__).resolve().parent.parent
# A reference to the origin workflow's numbering ("seed 1.2", "step 3.3", "phase 5.1", "(3.1)",
# "(5.2, 5.3)"): an operator cannot look these up; docs/rules.md sections and docs/origin.md they can.
ORIGIN_NUMBER = re.compile(
    r"\b(seed|step|phase)\s+(step\s+)?\d|\([1-9]\.[1-9](?=[,:)\s])|\b[1-9]\.[1-9](,| and) [1-9]\.[1-9]\b",
    re.IGNORECASE,
)
PII_COLUMNS = {"email", "name", "user_name", "csm_name", "csm_email", "raw_name", "first_name", "last_name"}


@pytest.fixture(scope="module")
def defs():
    from dagster_project.dbt_project import prepare_manifest

    prepare_manifest()  # no-op when the manifest is current
    from dagster_project.definitions import defs

    return defs


def _assets(defs) -> list[Any]:
    graph = defs.resolve_asset_graph()
    return [graph.get(key) for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]


# ---------------------------------------------------------------------------------------------------- fast


def test_every_asset_has_its_groups_owner_and_stage(defs):
    from dagster_project.assets.catalog import OWNERS

    nodes = _assets(defs)
    assert len(nodes) > 60
    for node in nodes:
        assert list(node.owners) == OWNERS[node.group_name], node.key.to_user_string()
        assert node.tags.get("stage") == node.group_name, node.key.to_user_string()


def test_raw_tables_and_marts_have_a_daily_freshness_policy(defs):
    from dagster_project.assets.catalog import DAILY_FRESHNESS

    nodes = _assets(defs)
    fresh = {n.key for n in nodes if n.freshness_policy is not None}
    expected = {n.key for n in nodes if n.key.path[0] in ("raw", "marts")}
    assert fresh == expected
    assert {n.freshness_policy for n in nodes if n.key in fresh} == {DAILY_FRESHNESS}


def _yml_descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            else:
                yield from _yml_descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _yml_descriptions(item)


def test_descriptions_cite_no_origin_section_numbers(defs):
    texts: list[tuple[str, str]] = []
    for node in _assets(defs):
        where = node.key.to_user_string()
        prose = (node.description or "").split("#### Raw SQL")[0]  # dagster-dbt appends the model's SQL
        texts.append((where, prose))
        schema = node.metadata.get("dagster/column_schema")
        for column in getattr(schema, "columns", []):
            texts.append((f"{where}.{column.name}", column.description or ""))
    for check in defs.resolve_asset_graph().asset_check_keys:
        spec = defs.resolve_asset_graph().get_check_spec(check)
        texts.append((check.to_user_string(), spec.description or ""))
    for path in sorted((ROOT / "dbt_project").glob("**/*.yml")):
        if "target" in path.parts or "dbt_packages" in path.parts:
            continue
        for text in _yml_descriptions(yaml.safe_load(path.read_text()) or {}):
            texts.append((str(path.relative_to(ROOT)), text))
    assert len(texts) > 500
    cited = [f"{where}: {m.group(0)!r}" for where, text in texts for m in [ORIGIN_NUMBER.search(text)] if m]
    assert not cited, "\n".join(cited)
    assert ORIGIN_NUMBER.search("One row per user (seed step 1.2)") and ORIGIN_NUMBER.search("score (3.1).")


def test_every_test_a_dbt_step_runs_is_one_of_its_checks(defs):
    """A step's checks are exactly the tests its `dbt build` selects: a test selected without a check
    is logged as an observation with a warning on every run, and a check whose test another step runs
    is planned and never evaluated (shown "Skipped")."""
    from dagster_dbt.utils import select_unique_ids

    from dagster_project.assets.dbt import dbt_decisions, dbt_foundation
    from dagster_project.dbt_project import dbt_project
    from dagster_project.dbt_window import FOUNDATION

    manifest = json.loads(Path(dbt_project.manifest_path).read_text())
    steps = ((dbt_foundation, FOUNDATION, ""), (dbt_decisions, "fqn:*", FOUNDATION))
    raw_checks: set[str] = set()
    for step, select, exclude in steps:
        selected = select_unique_ids(select=select, exclude=exclude, selector="", project=dbt_project,
                                     manifest_json=manifest)
        tests = {u for u in selected if u.startswith("test.")}
        checks = {spec.metadata["dagster_dbt/unique_id"] for spec in step.check_specs}
        assert tests == checks, (step.op.name, sorted(tests ^ checks))
        if step is dbt_foundation:
            raw_checks = {s.key.name for s in step.check_specs if s.key.asset_key.path[0] == "raw"}
    assert len(raw_checks) >= 7  # the raw.* source tests are the foundation step's


def test_delivery_check_warns_on_a_dry_run_and_passes_a_live_one():
    from dagster_project.assets.sync_assets import delivery_check, summary_metadata
    from sync.outcomes import RunSummary

    now = datetime.now(UTC)
    dry = RunSummary(run_id="r1", destination="appcues", dry_run=True, status="completed", started=now,
                     planned=12, dry_reason="no credentials (APPCUES_API_KEY not set)")
    live = RunSummary(run_id="r2", destination="appcues", dry_run=False, status="completed", started=now,
                      planned=12, sent=10, unchanged=2)
    check = delivery_check(dry)
    assert not check.passed and check.severity == AssetCheckSeverity.WARN
    assert check.description == "DRY RUN - nothing sent: no credentials (APPCUES_API_KEY not set)"
    assert delivery_check(live).passed
    first, value = next(iter(summary_metadata(dry).items()))
    assert first == "delivery" and value.value.startswith("DRY RUN - nothing sent")
    assert summary_metadata(dry)["dagster/row_count"].value == 0
    assert summary_metadata(live)["dagster/row_count"].value == 12


def test_day_metadata_counts_each_day_over_its_sources():
    from dagster_project.assets.ingest import day_metadata
    from dagster_project.ingest.stats import LoadStats

    stats = [
        LoadStats("segment", "2026-03-10", files=2, lines=100, loaded=90, duplicates=6, quarantined=4),
        LoadStats("rudderstack", "2026-03-10", files=1, lines=10, loaded=10),
        LoadStats("segment", "2026-03-11", files=3, lines=50, loaded=45, duplicates=5),
    ]
    meta = day_metadata(stats)
    assert meta["2026-03-10"]["lines"].value == 110 and meta["2026-03-10"]["dagster/row_count"].value == 100
    assert meta["2026-03-11"]["files"].value == 3 and meta["2026-03-11"]["loaded"].value == 45
    assert meta["2026-03-10"]["by_source"].value["rudderstack"]["loaded"] == 10
    assert "by_source" not in meta["2026-03-11"]


# ---------------------------------------------------------------------------------------------------- slow

@dataclass
class TinyRun:
    db_path: Path
    days: list[str]
    logs: list[Any]

    def of_type(self, kind: str) -> list[Any]:
        """The run's events of `kind`, as the instance stored them (planned events included: the
        instance logs those when the run is created, outside the execution's own events)."""
        return [r.dagster_event for r in self.logs if r.dagster_event and r.dagster_event.event_type_value == kind]


@pytest.fixture(scope="module")
def tiny_run(cli_run) -> TinyRun:
    """The session's `onboarding run` (tests/conftest.py `cli_run`): the last two days of the session
    warehouse in one run over the range, as a UI backfill runs it, its events read back from its Dagster
    home. Why not a run of its own: the CLI's and the code location's tests read the same run."""
    assert cli_run.exit_code == 0, cli_run.stdout[-3000:] + cli_run.stderr[-3000:]
    with cli_run.instance() as instance:
        logs = instance.all_logs(cli_run.run_id)
    days = [(cli_run.start + timedelta(days=i)).isoformat() for i in range((cli_run.end - cli_run.start).days + 1)]
    return TinyRun(db_path=cli_run.db_path, days=days, logs=logs)


@pytest.mark.slow
def test_each_ingest_partition_shows_its_own_days_counts(tiny_run):
    from dagster_project.assets.ingest import RAW_SOURCES

    con = duckdb.connect(str(tiny_run.db_path), read_only=True)
    try:
        log = {(s, str(d)): (f, li, lo, du, q) for s, d, f, li, lo, du, q in con.execute(
            "select source, _partition_day, files, lines, loaded, duplicates, quarantined from raw.load_log").fetchall()}
        rows = {(t, d): n for t in RAW_SOURCES for d, n in con.execute(
            f"select cast(_partition_day as varchar), count(*) from raw.{t} group by 1").fetchall()}
    finally:
        con.close()
    seen = set()
    for event in tiny_run.of_type("ASSET_MATERIALIZATION"):
        mat = event.event_specific_data.materialization
        table = mat.asset_key.path[-1]
        if mat.asset_key.path[0] != "raw":
            continue
        meta = {k: v.value for k, v in mat.metadata.items()}
        sums = [sum(log.get((source, mat.partition), (0,) * 5)[i] for source in RAW_SOURCES[table]) for i in range(5)]
        assert [meta["files"], meta["lines"], meta["loaded"], meta["duplicates"], meta["quarantined"]] == sums, (
            table, mat.partition)
        assert meta["dagster/row_count"] == rows.get((table, mat.partition), 0)
        seen.add((table, mat.partition))
    assert seen == {(t, d) for t in RAW_SOURCES for d in tiny_run.days}
    # the days differ, so a run total copied to every day would fail the comparison above
    lines = {d: sum(log[(s, d)][1] for s in RAW_SOURCES["segment_events"]) for d in tiny_run.days}
    assert len(set(lines.values())) > 1


@pytest.mark.slow
def test_raw_source_tests_pass_as_checks_of_the_step_that_runs_them(tiny_run):
    planned = {(e.event_specific_data.asset_key, e.event_specific_data.check_name)
               for e in tiny_run.of_type("ASSET_CHECK_EVALUATION_PLANNED")}
    evaluations = {(e.event_specific_data.asset_key, e.event_specific_data.check_name): e
                   for e in tiny_run.of_type("ASSET_CHECK_EVALUATION")}
    assert planned and planned == set(evaluations)  # nothing planned is left unevaluated ("Skipped")
    # the dbt source tests on raw.* (the ingest assets have Python checks of their own too)
    raw = {k: e for k, e in evaluations.items() if k[0].path[0] == "raw" and k[1].startswith("source_")}
    assert len(raw) >= 7
    assert all(e.event_specific_data.passed and e.step_key == "dbt_foundation" for e in raw.values())
    unmodelled = [r.user_message for r in tiny_run.logs
                  if "AssetObservation" in (r.user_message or "") or "asset check selection" in (r.user_message or "")]
    assert not unmodelled
    assert not [r.user_message for r in tiny_run.logs if r.level >= 30 and r.step_key == "dbt_foundation"]


@pytest.mark.slow
def test_dbt_tables_report_their_row_counts(tiny_run):
    con = duckdb.connect(str(tiny_run.db_path), read_only=True)
    counted = {}
    try:
        for event in tiny_run.of_type("ASSET_MATERIALIZATION"):
            mat = event.event_specific_data.materialization
            if event.step_key != "dbt_foundation" or "dagster/row_count" not in mat.metadata:
                continue
            table = ".".join(mat.asset_key.path)
            counted[table] = mat.metadata["dagster/row_count"].value
            assert counted[table] == con.execute(f"select count(*) from {table}").fetchone()[0], table
    finally:
        con.close()
    assert "intermediate.int_users__profiles" in counted and "seeds.experiments" in counted
    assert not [t for t in counted if t.startswith("staging.")]  # views are not counted
    assert counted["intermediate.int_users__profiles"] > 0


def _warehouse_columns(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, str]]:
    columns: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, kind in con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns").fetchall():
        columns.setdefault((schema, table), {})[column] = kind.lower()
    return columns


def test_declared_column_types_match_the_warehouse(defs, warehouse):
    con = warehouse.connect()
    try:
        actual = _warehouse_columns(con)
    finally:
        con.close()
    declared: dict[tuple[str, str], dict[str, str]] = {}
    for node in _assets(defs):
        schema = node.metadata.get("dagster/column_schema")
        if schema is not None:
            declared[tuple(node.key.path)] = {c.name: c.type for c in schema.columns}
    wrong = [f"{'.'.join(t)}.{c}: declared {k}, warehouse {actual.get(t, {}).get(c)}"
             for t, cols in declared.items() for c, k in cols.items()
             if k != "?" and actual.get(t, {}).get(c) != {"string": "varchar"}.get(k.lower(), k.lower())]
    assert not wrong, "\n".join(wrong)
    marts = [t for t in actual if t[0] == "marts" and t in declared]
    assert len(marts) >= 12
    untyped = [f"{'.'.join(t)}.{c}" for t in marts for c in actual[t] if declared[t].get(c, "?") == "?"]
    assert not untyped, "mart columns without a declared type:\n" + "\n".join(untyped)


def test_tables_with_emails_or_names_are_tagged_pii(defs, warehouse):
    from dagster_project.assets.catalog import PII_TAG

    nodes = {tuple(n.key.path): n for n in _assets(defs)}
    con = warehouse.connect()
    try:
        personal = []
        for table, columns in _warehouse_columns(con).items():
            if table not in nodes:
                continue
            named = PII_COLUMNS & set(columns)
            texts = [c for c, k in columns.items() if k in ("varchar", "json")]
            emails = texts and con.execute(
                f"select count(*) from {table[0]}.{table[1]} where "
                + " or ".join(f"regexp_matches(cast(\"{c}\" as varchar), '[\\w.+-]+@[\\w-]+\\.[\\w.]+')" for c in texts)
            ).fetchone()[0]
            if named or emails:
                personal.append(table)
    finally:
        con.close()
    assert ("raw", "signups") in personal and ("marts", "intercom_contacts") in personal
    untagged = [".".join(t) for t in personal if PII_TAG not in nodes[t].tags]
    assert not untagged, f"tables holding emails or names without the {PII_TAG} tag: {untagged}"


def test_a_dry_sync_says_so_first(defs, warehouse, tmp_path, monkeypatch):
    """sync/appcues on a copy of the session warehouse, no credentials: the asset materializes (the
    plan is stored), its delivery check warns, its first metadata line says DRY RUN, it is tagged."""
    from dagster_project.assets.sync_assets import DELIVERY_CHECK, sync_assets
    from dagster_project.resources import build_resources

    for name in ("APPCUES_ACCOUNT_ID", "APPCUES_API_KEY", "APPCUES_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    copy = warehouse.copy_to(tmp_path)
    appcues = next(a for a in sync_assets if AssetKey(["sync", "appcues"]) in a.keys)
    with pointed_at(copy.db_path, copy.landing):
        result = materialize([appcues], resources=build_resources(), raise_on_error=False)
    assert result.success
    [mat] = result.asset_materializations_for_node(appcues.op.name)
    first, value = next(iter(mat.metadata.items()))
    assert first == "delivery" and value.value.startswith("DRY RUN - nothing sent: no credentials")
    assert mat.tags.get("dry_run") == "true"
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == DELIVERY_CHECK and not check.passed
    assert check.severity == AssetCheckSeverity.WARN
