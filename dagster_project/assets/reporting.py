"""marts.user_explain: every user's timeline, the dbt model marts.user_explain_timeline joined with the
sync ledger's delivery statuses (dagster_project/explain.py), rebuilt after the sync so they are the
ledger's latest. Group "reporting", with the dbt reporting models."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)

from sync.settings import DESTINATIONS

from ..explain import EXPLAIN_TABLE, build_user_explain, latest_day
from ..resources import WarehouseResource
from .catalog import DAILY_FRESHNESS, OWNERS, stage_tags
from .dbt import dbt_asset_defs

# The dbt timeline (and the profiles the as-of filter reads), and the sync assets whose ledger gives
# the delivery statuses.
DBT_INPUTS = ("user_explain_timeline", "int_users__profiles")
# Every destination: the timeline shows each one's delivery status from its ledger.
SYNC_INPUTS = tuple(AssetKey(["sync", d]) for d in DESTINATIONS)

# column -> (DuckDB type, description); tests/test_catalog.py checks the types against the warehouse.
COLUMNS = {
    "user_id": ("varchar", "The user."),
    "on_date": ("date", "The day the item happened or was decided (decisions for day D use events up to its end)."),
    "day_number": ("bigint", "Days since the signup day (0 = signup day)."),
    "happened_at": ("timestamp", "Time of the item when it has one (signup, exposure, milestone, message due time),"
                    " else null."),
    "section": ("varchar", "profile, experiment, track, milestone, score, stage, difficulty, risk, csm, message"
                " or csm_alert."),
    "item": ("varchar", "What happened or was decided (e.g. 'track power_user', 'risk 0.55: automated_nudge')."),
    "detail": ("varchar", "Why: the source and reason of a track, the inputs of a difficulty, the risk factors with"
               " their weights, a message's reason and subject; the profile's email and name."),
    "delivery": ("varchar", "For messages and CSM alerts: the sync ledger's status per destination (pending, sent"
                 " at, failed with the error; dry runs say so)."),
    "seq": ("bigint", "Order of the item in the user's timeline."),
    "as_of_date": ("date", "The last decided day the timeline was built for."),
}


def _dbt_keys(names: tuple[str, ...]) -> list[AssetKey]:
    keys = {key.path[-1]: key for defs in dbt_asset_defs for key in defs.keys}
    return [keys[name] for name in names if name in keys]


@asset(
    key=AssetKey(["marts", "user_explain"]),
    group_name="reporting",
    deps=[*_dbt_keys(DBT_INPUTS), *SYNC_INPUTS],
    description="Explain a user, for every user: the timeline `onboarding explain USER_ID` prints, one row per item.",
    kinds={"duckdb", "python"},
    owners=OWNERS["reporting"],
    tags=stage_tags("reporting", pii=True),  # the profile items name the user and their email
    freshness_policy=DAILY_FRESHNESS,
    metadata={
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(n, type=t, description=d) for n, (t, d) in COLUMNS.items()]
        ),
        "dagster/table_name": EXPLAIN_TABLE,
    },
)
def user_explain(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    con = warehouse.connect()
    try:
        rows = build_user_explain(con)
        as_of = latest_day(con)
        users = con.execute(f"select count(distinct user_id) from {EXPLAIN_TABLE}").fetchall()[0][0]
    finally:
        con.close()
    context.log.info(f"{EXPLAIN_TABLE}: {rows} timeline items for {users} users as of {as_of}")
    return MaterializeResult(
        metadata={
            "dagster/row_count": MetadataValue.int(rows),
            "users": MetadataValue.int(users),
            "as_of_date": MetadataValue.text(str(as_of)),
        }
    )


reporting_assets = [user_explain]
