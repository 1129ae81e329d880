"""Which products each demo user has access to: the `products` profile trait (signup metadata and
identify traits; docs/data-contracts.md).

Why a trait and not an event: access is granted with the account (the plan), so it arrives with the
signup profile. Paid users (pro, enterprise) often buy a bundle; free and trial users mostly get the core
product. A share of users get no `products` key at all, as exports from before the trait existed do:
staging reads that as the default single product (seed `onboarding_products`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import catalog as C
from .profiles import Users

# Kept equal to dbt_project/seeds/onboarding_products.csv by a test; the first is the default product.
PRODUCTS = ("analytics", "dashboards", "ai_assistant")
ABSENT_SHARE = 0.3  # users whose profile has no products key (older exports)
BUNDLE_SHARE = {"free": 0.1, "trial": 0.25, "pro": 0.6, "enterprise": 0.85}


def assign_products(users: Users, seed: int) -> dict[str, Any]:
    """Add `products` to each user's profile dict in place (both the signup payload and the identify
    traits read it) and return counts for the manifest. Its own generator: no other draw moves."""
    rng = np.random.default_rng([seed, 2])
    n = users.n
    absent = rng.random(n) < ABSENT_SHARE
    bundle_p = np.array([BUNDLE_SHARE[C.PLANS[int(p)]] for p in users.plan])
    bundle = rng.random(n) < bundle_p
    extra = rng.integers(1, len(PRODUCTS), n)  # how many products beyond the core one
    pick = rng.random((n, len(PRODUCTS) - 1))
    counts = {"absent": 0, "single": 0, "multi": 0}
    for i in range(n):
        if absent[i]:
            counts["absent"] += 1
            continue
        products = [PRODUCTS[0]]
        if bundle[i]:
            order = np.argsort(pick[i])[: int(extra[i])]
            products += [PRODUCTS[1 + int(j)] for j in sorted(order)]
        users.profile[i]["products"] = products
        counts["multi" if len(products) > 1 else "single"] += 1
    return counts
