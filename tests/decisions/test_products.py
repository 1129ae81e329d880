"""Multi-product onboarding and the stakeholder map on the session warehouse (no pipeline run of its own):
the marts agree with what the generator planted (manifest), and every new trigger is rendered."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # reads the session warehouse (built once by tests/conftest.py)

NEW_TRIGGERS = ("product_next_step", "products_merged", "stakeholder_map_invite", "team_progress_weekly")


def test_product_access_matches_the_planted_traits(warehouse):
    planted = warehouse.manifest["products"]
    with warehouse.connect() as con:
        users = con.execute("select count(*) from intermediate.int_users__profiles").fetchone()[0]
        per_user = dict(
            con.execute(
                "select user_id, min(product_count) from marts.user_product_onboarding group by user_id"
            ).fetchall()
        )
        by_source = dict(
            con.execute(
                "select products_source, count(distinct user_id) from intermediate.int_products__access group by 1"
            ).fetchall()
        )
        multi_profile = con.execute(
            "select count(distinct user_id) from intermediate.int_products__access"
            " where products_source = 'profile' and product_count >= 2"
        ).fetchone()[0]
    assert len(per_user) == users  # every user has at least one product row in the mart
    assert multi_profile == planted["multi"]
    assert by_source.get("profile", 0) == planted["single"] + planted["multi"]
    # Users without the trait: the default product, or their account's when a colleague named them.
    assert by_source.get("default", 0) + by_source.get("account", 0) == planted["absent"]


def test_team_progress_has_every_named_colleague_and_links_the_signed_up(warehouse):
    planted = warehouse.manifest["typeform"]["forms"][warehouse.manifest["typeform"]["stakeholder_form_id"]]
    with warehouse.connect() as con:
        accounts, members, linked, not_signed = con.execute(
            "select count(distinct account_id), count(*) filter (where member_type = 'stakeholder'),"
            " count(member_user_id) filter (where member_type = 'stakeholder'),"
            " count(*) filter (where onboarding_stage = 'not_signed_up') from marts.account_team_progress"
        ).fetchone()
    assert accounts == planted["responses"]
    assert members == planted["stakeholders"]
    assert linked == planted["stakeholders_signed_up"]
    assert not_signed == planted["stakeholders"] - planted["stakeholders_signed_up"]


def test_every_new_trigger_is_rendered_with_its_values(warehouse):
    with warehouse.connect() as con:
        rows = con.execute(
            "select trigger, count(*), min(body), bool_and(body not like '%{{%') from marts.triggered_messages"
            f" where trigger in {NEW_TRIGGERS} group by 1"
        ).fetchall()
    found = {trigger: (n, body, filled) for trigger, n, body, filled in rows}
    assert set(found) == set(NEW_TRIGGERS)
    assert all(filled for _, _, filled in found.values())  # no placeholder left unfilled
    assert "typeform.com/to/stkmap01#user_id=" in found["stakeholder_map_invite"][1]
