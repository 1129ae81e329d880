"""Step retry policies: which steps Dagster may run again after a failure, and how patiently.

Why per kind of step: a retry is only given to a step whose second attempt cannot do harm, and each of
these is safe for its own reason (docs/deploy.md, section 5):

- ingest: a landing day is replaced in one transaction, so loading it again is the same load;
- dbt: incremental models delete and recompute their window, the rest are views or full rebuilds;
- AI: answers are cached by input signature and every call is accounted in `ai.llm_calls`; rows are
  written once per key, so a second attempt asks only what the first did not store;
- Calendly links and Appcues attributes: an at-least-once outbox and an attribute diff against the
  ledger, so a second attempt sends only what the first did not record as sent;
- the read-only asset checks.

The Intercom and Slack syncs get none: they deliver customer messages and community invites, and a
step retry would add a second delivery attempt to every failure that fails them, none of which is
transient (docs/deploy.md explains why the ledger keeps them safe all the same).
tests/test_checks.py pins which steps have a policy, so a change here is deliberate.

What fails these steps in practice is transient: the warehouse lock held by another process past its
wait, a child process killed for memory, a landing store that did not answer. Backoff spreads the
attempts over a few minutes; jitter keeps two code locations from retrying in lockstep.
"""

from __future__ import annotations

from dagster import Backoff, Jitter, RetryPolicy

# Ingest, the AI steps and the attribute-style syncs: cheap to repeat.
STEP_RETRY = RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
# dbt: a build of the decisions takes most of a run; one more attempt, after a minute.
DBT_RETRY = RetryPolicy(max_retries=1, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
# The asset checks only read: a warehouse held by a sync or a backfill is the usual reason they fail.
CHECK_RETRY = RetryPolicy(max_retries=2, delay=20, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
# Per sync destination: Calendly links (at-least-once, one stored per key) and Appcues attributes (a diff
# against the ledger) may be retried; Intercom and Slack deliver to customers and get no entry.
SYNC_RETRY: dict[str, RetryPolicy] = {"calendly": STEP_RETRY, "appcues": STEP_RETRY}
