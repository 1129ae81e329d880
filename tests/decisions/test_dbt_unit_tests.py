"""The dbt unit tests (`unit_tests:` in the models' yml files) run as part of `make test`.

They pin every rule at its boundaries (docs/rules.md "Tests"). dbt needs the upstream relations to exist
to type the fixtures, so they run against a copy of the session warehouse, with their own target and log
paths (the Dagster manifest in dbt_project/target is left alone).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"

# The boundaries the rules issue asks for, each asserted on both sides by these unit tests.
BOUNDARY_TESTS = {
    "test_milestones_daily_next_action_boundaries",  # score 19/20, 49/50, 79/80
    "test_milestones_daily_score_and_as_of_cutoff",  # milestone at 00:00 of D+1 ignored on D
    "test_milestones_repeated_events_count_once",
    "test_risk_boundaries",  # risk 0.39/0.4, 0.69/0.7; idle 2/3 days; day 13/14 without invite
    "test_difficulty_boundaries",  # ttfq 299/300 s
    "test_off_track_after_exactly_5_idle_days",  # 4/5 idle days
    "test_activity_daily_idle_days_and_as_of_cutoff",  # exactly 3 idle days; events of D+1 ignored
    "test_activity_daily_cutoff_both_sides_and_idle_4_5_days",
    "test_day_based_messages_on_their_day",  # day 13/14 playbook, day 9/10 trial offer
    "test_first_time_messages_once_from_their_day",  # day 13/14 community invite, 10,000/10,001 records
    "test_situation_keys_late_data_adds_no_key_for_a_known_situation",  # late data: no second key
    "test_csm_alerts_keep_the_key_an_episode_was_first_keyed_with",  # late data: no second Slack alert
    "test_triggered_messages_escape_hostile_values_per_destination",  # rendering after the joins moved out
    "test_to_render_experiment_variant_and_ai_playbook",  # template choice in int_messages__to_render
    # issue 19: tracks that behave like their descriptions, power-ups, the quit survey, the review's fixes
    "test_track_policies_channels_csm_and_cadences",  # channels, CSM rules, cadences per track
    "test_situations_consult_the_track_policy_table",  # every trigger consults the policy table
    "test_csm_from_day_one_checkins_and_emergency_only_tracks",  # paid plans, specialist, check-ins
    "test_scheduled_cadences_csm_day_one_and_quit_survey",  # days 2/3/4, 17/24 of a cadence; survey link
    "test_power_ups_weekly_never_twice_and_stop",  # most voted unused feature, never twice, stops
    "test_feature_affinity_counts_users_of_both_as_of_each_day",  # co-usage as of 23:59:59 / 00:00
    "test_activity_daily_counts_first_import_integrations_and_invitees_once",  # records, integrations, team
    "test_ticket_changes_reopened_ticket_is_open_again",  # reopened ticket
    "test_off_track_ends_with_the_onboarding_period",  # day 59/60
    "test_risk_episodes_no_escalation_past_the_period_or_on_emergency_only_tracks",  # nudge from day 56/57
}
MIN_UNIT_TESTS = 48


def _dbt() -> str:
    local = Path(sys.executable).with_name("dbt")
    return str(local) if local.exists() else shutil.which("dbt") or "dbt"


def test_dbt_unit_tests_pass(warehouse, tmp_path):
    db_path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse.db_path, db_path)
    wal = Path(f"{warehouse.db_path}.wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{db_path}.wal"))
    target = tmp_path / "target"
    args = [_dbt(), "test", "--select", "test_type:unit", "--project-dir", str(DBT_PROJECT)]
    args += [
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(target),
        "--log-path",
        str(tmp_path / "logs"),
    ]
    proc = subprocess.run(
        args, env={**os.environ, "ONBOARDING_DB": str(db_path)}, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]

    results = json.loads((target / "run_results.json").read_text())["results"]
    unit = {
        r["unique_id"].rsplit(".", 1)[-1]: r["status"]
        for r in results
        if r["unique_id"].startswith("unit_test.")
    }
    assert len(unit) >= MIN_UNIT_TESTS, sorted(unit)
    assert {name for name, status in unit.items() if status != "pass"} == set()
    assert set(unit) >= BOUNDARY_TESTS, BOUNDARY_TESTS - set(unit)
