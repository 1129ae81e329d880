"""Two syncs of one warehouse at once - threads, tasks, processes - never send one key twice, and the
second never marks the live run's rows interrupted or in doubt."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from sync.engine import SyncBusy, run_sync, run_sync_async
from sync.outcomes import RunSummary
from tests.standins import StandinSet, start_all
from tests.standins.marts import alert, contact, message
from tests.sync.conftest import FAST, Warehouse, settings_for

USERS = 6


@pytest.fixture
def slow_standins() -> Iterator[StandinSet]:
    """Every answer takes a little while, so the two syncs overlap for seconds, not microseconds."""
    servers = start_all(latency=0.02)
    servers.intercom.inject("slow", times=10**6, delay=0.1, match="POST /messages")
    try:
        yield servers
    finally:
        servers.stop()


def load(warehouse: Warehouse) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(USERS)])
    warehouse.insert("triggered_messages", [message(f"m-{i}", i) for i in range(USERS)])
    warehouse.insert("csm_alerts", [alert(f"a-{i}", i) for i in range(USERS)])


def assert_once_each(warehouse: Warehouse, standins: StandinSet) -> None:
    with standins.intercom.lock:
        sent = Counter(m["body"].rsplit("[", 1)[1].rstrip("]") for m in standins.intercom.messages)
    assert sent == Counter({f"m-{i}": 1 for i in range(USERS)})
    assert Counter(standins.slack.alert_keys()) == Counter({f"a-{i}": 1 for i in range(USERS)})
    assert len(standins.intercom.contacts) == USERS
    assert warehouse.value("select count(*) from sync.runs where status <> 'completed'") == 0
    assert warehouse.value("select count(*) from sync.outbox where status <> 'sent'") == 0


def test_two_threads_the_second_waits_and_sends_nothing_twice(tmp_path, slow_standins: StandinSet) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    load(warehouse)
    settings = settings_for(slow_standins)
    results: dict[int, list[RunSummary]] = {}
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            results[n] = run_sync(warehouse.path, ["intercom", "slack"], settings=settings)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(sum(s.sent for s in r) for r in results.values())[0] == 0  # the one that waited: nothing new
    assert_once_each(warehouse, slow_standins)


def test_two_tasks_in_one_event_loop(tmp_path, slow_standins: StandinSet) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    load(warehouse)
    settings = settings_for(slow_standins)

    async def both() -> None:
        await asyncio.gather(*(run_sync_async(warehouse.path, ["intercom", "slack"], settings=settings)
                               for _ in range(2)))

    asyncio.run(both())
    assert_once_each(warehouse, slow_standins)


def test_a_second_sync_that_cannot_wait_exits_with_a_clear_message(
        tmp_path, slow_standins: StandinSet, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    load(warehouse)
    settings = settings_for(slow_standins)
    monkeypatch.setenv("ONBOARDING_LOCK_TIMEOUT", "0")
    first: list[list[RunSummary]] = []
    thread = threading.Thread(target=lambda: first.append(
        run_sync(warehouse.path, ["intercom", "slack"], settings=settings)))
    thread.start()
    for _ in range(500):  # until the first is mid-run: its customer messages are going out
        if slow_standins.intercom.requests("POST", "/messages") or not thread.is_alive():
            break
        time.sleep(0.01)
    with pytest.raises(SyncBusy, match=r"another sync of .* is running in this process.*ONBOARDING_LOCK_TIMEOUT"):
        run_sync(warehouse.path, ["intercom"], settings=settings)
    thread.join(120)
    assert first and all(s.status == "completed" for s in first[0])
    assert_once_each(warehouse, slow_standins)


def test_two_processes(tmp_path, slow_standins: StandinSet) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    load(warehouse)
    env = {**os.environ, **FAST, **slow_standins.env(), "ONBOARDING_LOCK_TIMEOUT": "60"}
    command = [sys.executable, "-m", "sync", "--db", str(warehouse.path)]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()[-2000:]
    # One of them waited, and said so (rich may wrap the line anywhere: compare with whitespace removed).
    assert any(b"lockedby" in b"".join(err.split()) for _, err in outputs)
    assert_once_each(warehouse, slow_standins)
