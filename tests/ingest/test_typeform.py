"""The Typeform source on hand-made webhook deliveries: loaded, deduplicated, quarantined with reasons."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dagster_project.ingest.load import load_day

from .conftest import DAY, dumps


def delivery(token: str, *, form_id: str = "stkmap01", event_id: str | None = None, **response) -> dict:
    """A `form_response` webhook body in Typeform's shape (docs/data-contracts.md, section 1)."""
    body = {
        "form_id": form_id,
        "token": token,
        "landed_at": "2026-11-02T09:58:00Z",
        "submitted_at": "2026-11-02T10:00:00Z",
        "hidden": {"user_id": "u1"},
        "definition": {"id": form_id, "title": "Team", "fields": []},
        "answers": [
            {
                "type": "text",
                "text": "Ada",
                "field": {"id": "f1", "type": "short_text", "ref": "stakeholder_1_name"},
            },
            {
                "type": "choice",
                "choice": {"label": "Engineer"},
                "field": {"id": "f2", "type": "multiple_choice", "ref": "stakeholder_1_role"},
            },
        ],
    }
    body.update(response)
    return {"event_id": event_id or f"ev-{token}", "event_type": "form_response", "form_response": body}


def write(landing: Path, lines: list[bytes], day=DAY) -> None:
    folder = landing / "typeform"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{day.isoformat()}.jsonl").write_bytes(b"".join(lines))


def test_deliveries_load_dedupe_and_quarantine(con, landing):
    bad = {
        "no_token": delivery(""),
        "partial": {**delivery("t-partial"), "event_type": "form_response_partial"},
        "answers_obj": delivery("t-obj", answers={"a": 1}),
        "no_response": {"event_id": "ev-x", "event_type": "form_response"},
        "bad_time": delivery("t-time", submitted_at="soon"),
        "hidden_list": delivery("t-hidden", hidden=["u1"]),
    }
    write(
        landing,
        [
            dumps(delivery("t1")),
            dumps(delivery("t1", event_id="ev-retry")),  # a retried delivery of the same response
            dumps(delivery("t1", form_id="quit30")),  # same token in another form: another response
            *(dumps(v) for v in bad.values()),
            b'{"event_id": "ev-cut", "form_response": {\n',
        ],
    )
    stats = load_day(con, landing, "typeform", DAY)
    assert (stats.loaded, stats.duplicates, stats.quarantined) == (2, 1, len(bad) + 1)
    rows = con.execute(
        "select form_id, token, submitted_at, hidden ->> '$.user_id', json_array_length(answers) "
        "from raw.typeform_responses order by form_id"
    ).fetchall()
    assert [r[:2] for r in rows] == [("quit30", "t1"), ("stkmap01", "t1")]
    assert rows[0][3:] == ("u1", 2)
    codes = [
        r[0]
        for r in con.execute(
            "select split_part(reason, ':', 1) from raw.quarantine where source = 'typeform' order by _line"
        ).fetchall()
    ]
    assert codes == [
        "missing_field",
        "wrong_type",
        "wrong_type",
        "missing_field",
        "bad_timestamp",
        "wrong_type",
        "invalid_json",
    ]
    # Re-loading the day is the same load; a later day re-delivering t1 is a duplicate, not a row.
    again = load_day(con, landing, "typeform", DAY)
    assert (again.loaded, again.duplicates) == (2, 1)
    nxt = DAY + timedelta(days=1)
    write(landing, [dumps(delivery("t1", event_id="ev-late"))], day=nxt)
    late = load_day(con, landing, "typeform", nxt)
    assert (late.loaded, late.duplicates) == (0, 1)
    assert con.execute("select count(*) from raw.typeform_responses").fetchone()[0] == 2
    assert con.execute("select count(*) from raw.quarantine").fetchone()[0] == len(bad) + 1
