"""dagster_project/child.py: the protocol between a step and its child process."""

import pytest

from dagster_project.child import ChildError, run_child
from sync import warehouse


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
