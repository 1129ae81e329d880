"""dagster_project/core/child.py: the protocol between a step and its child process."""

import pytest

from dagster_project.core import warehouse
from dagster_project.core.child import ChildError, run_child


def test_messages_stream_back_in_order_with_the_malloc_setting():
    messages = list(run_child("tests.child_echo", {"n": [1, "two"]}))
    assert messages == [
        {"progress": 1},
        {"request": {"n": [1, "two"]}, "tunables": warehouse.child_env()["GLIBC_TUNABLES"]},
    ]
    assert warehouse.MALLOC_TUNABLE in messages[1]["tunables"]


def test_a_failing_child_raises_with_its_traceback_after_its_messages():
    received = []
    with pytest.raises(ChildError, match=r"(?s)exit 1.*ValueError: asked to fail"):
        for message in run_child("tests.child_echo", {"fail": True}):
            received.append(message)
    assert received == [{"progress": 1}]


def test_a_missing_module_is_a_clear_error():
    with pytest.raises(ChildError, match="No module named"):
        list(run_child("tests.no_such_child", {}))


def test_a_child_that_writes_much_to_stderr_does_not_block():
    """More than a pipe holds (64 KB) on stderr while the parent reads stdout: no deadlock."""
    messages = list(run_child("tests.child_echo", {"stderr_bytes": 1_000_000}))
    assert messages[-1]["request"] == {"stderr_bytes": 1_000_000}
    with pytest.raises(ChildError, match=r"(?s)ValueError: asked to fail\s*$"):
        list(run_child("tests.child_echo", {"stderr_bytes": 1_000_000, "fail": True}))
