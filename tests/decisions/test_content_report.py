"""The quarterly content-library report (docs/rules.md rule 13): rendered from a real DuckDB file with the
mart's shape, the ranking kept, free text unable to add links, HTML or table cells, and a clear one-line
error for a quarter without answers (no traceback)."""

from __future__ import annotations

import re

import duckdb
import pytest

from dagster_project import content_report

ROWS = [
    # quarter, rank, theme, answers, share, action, item, reason, tracks, quotes
    ("2026-Q3", 1, "pricing", 1, 100.0, "fix", "the pricing page", "r", "power_user (1)", "Old quarter."),
    ("2026-Q4", 1, "missing_integration", 3, 50.0, "add", "integration guides", "r", "self_service (3)",
     "Needed [NetSuite](javascript:alert(1)) | <script>x</script> a|b"),
    ("2026-Q4", 2, "pricing", 1, 16.7, "fix", "the pricing page", "r", "power_user (1)", "Too expensive."),
    ("2026-Q4", 3, "positive_other", 2, 33.3, "none", None, "r", "business_value (2)", "All good."),
]  # fmt: skip


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.content_library_quarterly (quarter varchar, theme_rank bigint, theme varchar, "
            "answers bigint, share_pct double, content_action varchar, content_item varchar, reason varchar, "
            "tracks varchar, example_quotes varchar)"
        )
        con.executemany(
            "insert into marts.content_library_quarterly values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS
        )
    return path


def test_latest_quarter_rendered_in_rank_order_with_escaped_quotes(db, tmp_path):
    with duckdb.connect(str(db), read_only=True) as con:
        path = content_report.write_report(con, tmp_path / "reports")
    assert path.name == "content_library_2026-Q4.md"
    text = path.read_text()
    assert "6 answers" in text and "in 3 themes" in text
    first, second = text.index("**add** integration guides"), text.index("**fix** the pricing page")
    assert first < second
    assert "positive_other" not in text.split("## Themes")[0]  # no change asked: not in the to-do list
    table = next(line for line in text.splitlines() if line.startswith("| 1 |"))
    assert not re.search(r"(?<!\\)\]\(", table), "a quote made a link"
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert table.count(" | ") == 6  # the quote's '|' is escaped, the row keeps its 7 cells
    assert "Old quarter" not in text


def test_unknown_quarter_is_one_line_error(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ONBOARDING_DB", str(db))
    assert content_report.main(["--quarter", "2020-Q1", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: no answers in quarter 2020-Q1; the mart has 2026-Q3, 2026-Q4"
    with pytest.raises(SystemExit):
        content_report.main(["--quarter", "Q4-2026"])
