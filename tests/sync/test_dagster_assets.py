"""The Dagster assets: one per destination, downstream of its marts, counts as metadata."""

from __future__ import annotations

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from dagster_project.assets.sync_assets import sync_assets
from dagster_project.resources import SyncResource, WarehouseResource
from sync.settings import DESTINATIONS
from tests.standins.marts import demo
from tests.sync.conftest import Warehouse


def test_one_asset_per_destination_with_mart_deps() -> None:
    specs = {spec.key: spec for a in sync_assets for spec in a.specs}
    assert set(specs) == {AssetKey(["sync", d]) for d in DESTINATIONS}
    assert all(spec.group_name == "sync" for spec in specs.values())
    deps = {key: {d.asset_key for d in spec.deps} for key, spec in specs.items()}
    assert deps[AssetKey(["sync", "intercom"])] == {
        AssetKey(["marts", "intercom_contacts"]), AssetKey(["marts", "triggered_messages"]), AssetKey(["sync", "calendly"])}
    assert AssetKey(["marts", "csm_alerts"]) in deps[AssetKey(["sync", "slack"])]
    assert AssetKey(["marts", "appcues_profiles"]) in deps[AssetKey(["sync", "appcues"])]
    assert AssetKey(["sync", "intercom"]) in deps[AssetKey(["sync", "sendgrid"])]  # Intercom withdraws first
    for destination in ("salesforce", "mixpanel", "segment"):
        assert AssetKey(["marts", "destination_traits"]) in deps[AssetKey(["sync", destination])]


def test_materialize_reports_run_counts(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The assets open the warehouse resource's file, not whatever ONBOARDING_DB says."""
    with duckdb.connect(str(warehouse.path)) as con:
        demo(con, users=6)
    monkeypatch.setenv("ONBOARDING_DB", str(tmp_path / "not-this.duckdb"))
    for name in ("INTERCOM_ACCESS_TOKEN", "SLACK_BOT_TOKEN", "APPCUES_API_KEY", "CALENDLY_TOKEN", "SENDGRID_API_KEY",
                 "SALESFORCE_CLIENT_ID", "MIXPANEL_PROJECT_TOKEN", "SEGMENT_WRITE_KEY"):
        monkeypatch.delenv(name, raising=False)

    result = materialize(sync_assets, instance=DagsterInstance.ephemeral(),
                         resources={"warehouse": WarehouseResource(db_path=str(warehouse.path)), "sync": SyncResource()})

    assert result.success
    metadata = {e.materialization.asset_key: {k: v.value for k, v in e.materialization.metadata.items()}
                for e in result.get_asset_materialization_events()}
    intercom = metadata[AssetKey(["sync", "intercom"])]
    assert intercom["dry_run"] is True and intercom["sent"] == 0 and intercom["planned"] > 0
    assert {"planned", "sent", "unchanged", "failed", "invalid", "in_doubt"} <= set(intercom)
    # The connection was closed: the file can be opened for writing again right away.
    with duckdb.connect(str(warehouse.path)) as con:
        assert con.execute("select count(*) from sync.runs").fetchone()[0] == len(DESTINATIONS)
    assert not (tmp_path / "not-this.duckdb").exists()
