"""SQLite event-log storage that writes a run's per-partition materializations in one transaction.

Why: a run over a range of days records one materialization per asset and day (Dagster has no
range-wide materialization). On `make run`'s 90-day demo that is ~9,100 events, and Dagster's SQLite
storage writes each alone: it opens the run's database and the index database afresh for every event
(two connections, two transactions, the insert compiled twice). The profile of `onboarding run` put
~70% of the run's wall time there, not in dbt (docs/benchmarks.md, "Dagster's event log").

Dagster already groups those events: with `DAGSTER_EVENT_BATCH_SIZE` set, the events of one asset's
partitions reach `store_event_batch` together. Its PostgreSQL storage writes such a batch with one
insert; its SQLite storage falls back to one `store_event` per event. This class gives SQLite the
PostgreSQL storage's batch write: the rows inserted in the run's database and in the index at once,
their tags stored together, and the asset's latest-materialization entry updated from the last event
of the batch (as PostgreSQL's does). Anything else (other event types, a batch of mixed types) goes
through Dagster's own one-by-one path.

The project's `dagster.yaml` (for `make run` and `make dev`) names this class; `onboarding run`
without DAGSTER_HOME uses the in-memory twin (`ephemeral_instance`). Deployments on PostgreSQL need
neither, only the batch size variable (docs/deploy.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import DagsterEventType, DagsterInstance, Field, StringSource
from dagster._core.events.log import EventLogEntry
from dagster._core.instance import InstanceType
from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
from dagster._core.run_coordinator import DefaultRunCoordinator
from dagster._core.storage.event_log import InMemoryEventLogStorage, SqlEventLogStorage, SqliteEventLogStorage
from dagster._core.storage.event_log.base import EventLogCursor
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster._core.storage.root import TemporaryLocalArtifactStorage
from dagster._core.storage.runs import InMemoryRunStorage
from dagster._serdes import ConfigurableClassData

BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
# Events one batch may hold: a year of daily partitions of one asset fits (SQLite allows 32,766
# bound values a statement; a row binds 8).
BATCH_SIZE = "1000"

_BATCHABLE = ({DagsterEventType.ASSET_MATERIALIZATION}, {DagsterEventType.ASSET_OBSERVATION})


def _batchable(events: Sequence[EventLogEntry]) -> bool:
    """One run's materializations (or observations) only: what Dagster's PostgreSQL storage batches."""
    kinds = {event.get_dagster_event().event_type for event in events}
    return len(events) > 1 and kinds in _BATCHABLE and len({event.run_id for event in events}) == 1


def _write_index(storage: SqlEventLogStorage, statement: Any, events: Sequence[EventLogEntry]) -> list[int]:
    """Insert the rows into the index (the cross-run tables), with their tags and the asset's latest
    entry from the last event, in one transaction; the rows' ids in the order of `events`."""
    with storage.index_transaction() as conn:
        returned = conn.execute(statement.returning(SqlEventLogStorageTable.c.id)).fetchall()
        # One statement in one write transaction: SQLite gives its rows increasing ids in the order
        # of the VALUES list, though RETURNING may list them in any order.
        event_ids = sorted(int(row[0]) for row in returned)
        storage._store_asset_event_tags(conn, events, event_ids)
        storage._store_asset_event(conn, events[-1], event_ids[-1])
    return event_ids


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, with `store_event_batch` writing a batch at once (module docstring)."""

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> BatchingSqliteEventLogStorage:
        """`base_dir` defaults to where Dagster's own SQLite storage keeps run event logs
        ($DAGSTER_HOME/history/runs), so a Dagster home made before keeps its history."""
        base_dir = config_value.get("base_dir")
        if not base_dir:
            if not os.environ.get("DAGSTER_HOME"):
                raise ValueError(
                    "BatchingSqliteEventLogStorage needs DAGSTER_HOME set (its event logs go to "
                    "$DAGSTER_HOME/history/runs) or `config: {base_dir: ...}` in dagster.yaml"
                )
            base_dir = os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
        return cls(base_dir=base_dir, inst_data=inst_data)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not _batchable(events):
            super().store_event_batch(events)
            return
        statement = self.prepare_insert_event_batch(events)
        with self.run_connection(events[0].run_id) as conn:  # the run's own database, then the index
            conn.execute(statement)
        _write_index(self, statement, events)


class BatchingInMemoryEventLogStorage(InMemoryEventLogStorage):
    """Dagster's in-memory event log (an ephemeral instance: `onboarding run` without DAGSTER_HOME, the
    tests' pipeline runs) with the same batch write; one database, so one insert."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not _batchable(events):
            super().store_event_batch(events)
            return
        _write_index(self, self.prepare_insert_event_batch(events), events)
        for event in events:  # what InMemoryEventLogStorage.store_event does after each write
            self._storage_id += 1
            for handler in list(self._handlers[event.run_id]):
                handler(event, str(EventLogCursor.from_storage_id(self._storage_id)))


def ephemeral_instance() -> DagsterInstance:
    """`DagsterInstance.ephemeral()` (dagster._core.instance.factory) with the batching in-memory log."""
    return DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=InMemoryRunStorage(),
        event_storage=BatchingInMemoryEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )
