"""The generator's Typeform files: Typeform's payload shape, loaded with exactly the manifest's counts,
the same bytes for the same seed, and form ids / products equal to the seeds the models read."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from dagster_project.demo import products as demo_products
from dagster_project.demo import typeform as demo_typeform
from dagster_project.demo.core import generate
from dagster_project.ingest.load import load_day

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
END = date(2026, 11, 20)
DAYS = 12


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(newline="") as f:
        return list(csv.DictReader(f))


def test_generator_constants_match_the_seeds():
    forms = {row["form_key"]: row for row in _seed("onboarding_forms.csv")}
    assert forms["stakeholder_map"]["form_id"] == demo_typeform.STAKEHOLDER_FORM_ID
    assert int(forms["stakeholder_map"]["send_day"]) == demo_typeform.STAKEHOLDER_SEND_DAY
    assert forms["quit_survey"]["form_id"] == demo_typeform.QUIT_SURVEY_FORM_ID
    assert int(forms["quit_survey"]["send_day"]) == demo_typeform.QUIT_SURVEY_DAY
    catalog = _seed("onboarding_products.csv")
    assert tuple(row["product"] for row in sorted(catalog, key=lambda r: int(r["product_rank"]))) == (
        demo_products.PRODUCTS
    )
    assert [row["product"] for row in catalog if row["is_default"] == "true"] == [demo_products.PRODUCTS[0]]


@pytest.mark.slow  # two generator runs: ~16 s on the shared two cores
def test_typeform_files_load_with_the_manifest_counts_and_are_deterministic(tmp_path: Path):
    out = tmp_path / "landing"
    manifest = generate(out, users=150, days=DAYS, seed=3, end_date=END, malformed_rate=0.01)
    first = {p.name: p.read_bytes() for p in (out / "typeform").iterdir()}
    counts = manifest["sources"]["typeform"]
    forms = manifest["typeform"]["forms"]
    assert forms[demo_typeform.STAKEHOLDER_FORM_ID]["responses"] > 0
    assert counts["duplicates"] == 1 and counts["malformed"] == 2

    # Typeform's shape: every complete delivery is a form_response with a token and the user id hidden field.
    payloads = []
    for line in (ln for body in first.values() for ln in body.splitlines() if ln.strip()):
        try:
            payloads.append(json.loads(line))
        except json.JSONDecodeError:  # the planted cut-off line
            continue
    complete = [p for p in payloads if "token" in p["form_response"]]
    assert all(
        p["event_type"] == "form_response" and p["form_response"]["hidden"]["user_id"] for p in complete
    )
    assert {p["form_response"]["form_id"] for p in complete} <= {"stkmap01", "quit30"}

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    loaded = duplicates = quarantined = 0
    for i in range(DAYS):
        stats = load_day(con, out, "typeform", END - timedelta(days=DAYS - 1 - i))
        loaded, duplicates, quarantined = (
            loaded + stats.loaded,
            duplicates + stats.duplicates,
            quarantined + stats.quarantined,
        )
    assert (loaded, duplicates, quarantined) == (counts["unique"], counts["duplicates"], counts["malformed"])
    reasons = sorted(
        r[0] for r in con.execute("select split_part(reason, ':', 1) from raw.quarantine").fetchall()
    )
    assert reasons == ["invalid_json", "missing_field"]
    con.close()

    again = generate(tmp_path / "again", users=150, days=DAYS, seed=3, end_date=END, malformed_rate=0.01)
    assert again["typeform"] == manifest["typeform"] and again["products"] == manifest["products"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "again" / "typeform").iterdir()} == first
