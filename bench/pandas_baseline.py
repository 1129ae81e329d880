"""Pandas baseline: the seed workflow's Code-node logic, done the usual pandas way (a child process).

    python -m bench.pandas_baseline LANDING [--as-of YYYY-MM-DD]

What a data scientist would write to replace the n8n Code nodes with a daily script, with the seed's
bugs fixed the way docs/rules.md fixes them so both sides compute the same thing:
- read every landing file's JSON lines (gzip or plain; lines that do not parse are skipped),
- step 1.1 identity: the signup webhook's user id, signup time and profile (Auth0, Supabase, Firebase),
- step 3.1 milestone score (each milestone once, at its first occurrence; min 100) and next action,
- step 3.3 difficulty (time to first query in seconds, queries per day since signup),
- step 5.1 churn risk (the six factors, capped at 1) and its routing,
as of the end of the last landing day, one row per user. Events are attributed by userId / distinct_id
(no anonymousId stitching) and de-duplicated on messageId / $insert_id. It does less than the engine:
no lineage, quarantine, daily history, dbt tests, messages or sync plan.
Prints one JSON line: users, events and the distribution of the decisions, and seconds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from dagster_project.ingest.files import iter_landing_files

MILESTONES = {
    "user.imported_first_data": 20,
    "user.ran_first_query": 30,
    "user.invited_teammate": 20,
    "user.created_integration": 20,
    "user.completed_tutorial": 10,
}
QUERY = {"user.ran_first_query", "user.ran_query"}
FEATURE = {
    "user.used_feature",
    "user.ran_query",
    "user.ran_first_query",
    "user.ran_analysis",
    "user.imported_data",
    "user.imported_first_data",
    "user.created_integration",
}
DOWNGRADE = "/settings/billing/downgrade"


def read_json_lines(landing: Path, source: str, last_day: date | None) -> pd.DataFrame:
    records = []
    for f in iter_landing_files(landing, source):
        if last_day is not None and f.day > last_day:
            continue
        opener = gzip.open if f.path.name.endswith(".gz") else open
        try:
            with opener(f.path, "rt", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    try:
                        value = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(value, dict):
                        records.append(value)
        except (EOFError, OSError):  # a truncated gzip member: keep what was read
            pass
    return pd.DataFrame.from_records(records)


def _get(series: pd.Series, *keys: str) -> pd.Series:
    out = series
    for key in keys:
        out = out.map(lambda v, k=key: v.get(k) if isinstance(v, dict) else None)
    return out


def signups(landing: Path, last_day: date | None) -> pd.DataFrame:
    df = read_json_lines(landing, "signups", last_day)
    for col in ("user", "record", "uid", "metadata", "customClaims", "provider"):
        if col not in df:
            df[col] = None
    auth0 = df["user"].map(lambda v: isinstance(v, dict))
    supa = ~auth0 & df["record"].map(lambda v: isinstance(v, dict))
    fire = ~auth0 & ~supa & df["uid"].notna()
    user_id = pd.Series(None, index=df.index, dtype=object)
    user_id[auth0] = _get(df.loc[auth0, "user"], "user_id")
    user_id[supa] = _get(df.loc[supa, "record"], "id")
    user_id[fire] = df.loc[fire, "uid"]
    created = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    created[auth0] = pd.to_datetime(_get(df.loc[auth0, "user"], "created_at"), utc=True, errors="coerce")
    created[supa] = pd.to_datetime(
        _get(df.loc[supa, "record"], "created_at"), utc=True, errors="coerce", format="ISO8601"
    )
    created[fire] = pd.to_datetime(
        _get(df.loc[fire, "metadata"], "creationTime"),
        utc=True,
        errors="coerce",
        format="%a, %d %b %Y %H:%M:%S GMT",
    )
    meta = pd.Series(None, index=df.index, dtype=object)
    meta[auth0] = _get(df.loc[auth0, "user"], "user_metadata")
    meta[supa] = _get(df.loc[supa, "record"], "raw_user_meta_data")
    meta[fire] = df.loc[fire, "customClaims"]
    out = pd.DataFrame(
        {
            "user_id": user_id,
            "signup_at": created,
            "plan": _get(meta, "plan"),
            "industry": _get(meta, "industry").fillna("unknown"),
            "team_size": pd.to_numeric(_get(meta, "team_size"), errors="coerce").fillna(1),
        }
    )
    out = out.dropna(subset=["user_id", "signup_at"]).sort_values("signup_at")
    return out.drop_duplicates("user_id").set_index("user_id")


def events(landing: Path, last_day: date | None) -> pd.DataFrame:
    frames = []
    for source in ("segment", "rudderstack"):
        df = read_json_lines(landing, source, last_day)
        if df.empty:
            continue
        df = df[df["type"].isin(["track", "page"])]
        page = df["type"] == "page"
        name = df["event"].where(~page, "page_viewed")
        path = _get(df["properties"], "path").where(page, None)
        frames.append(
            pd.DataFrame(
                {
                    "event_id": df["messageId"],
                    "user_id": df["userId"],
                    "event": name,
                    "page_path": path,
                    "event_at": pd.to_datetime(df["timestamp"], utc=True, errors="coerce", format="ISO8601"),
                }
            )
        )
    mp = read_json_lines(landing, "mixpanel", last_day)
    if not mp.empty:
        props = mp["properties"]
        t = pd.to_numeric(_get(props, "time"), errors="coerce")
        t = np.where(t > 1e11, t / 1000, t)
        frames.append(
            pd.DataFrame(
                {
                    "event_id": _get(props, "$insert_id"),
                    "user_id": _get(props, "distinct_id"),
                    "event": mp["event"],
                    "page_path": None,
                    "event_at": pd.to_datetime(t, unit="s", utc=True, errors="coerce"),
                }
            )
        )
    ev = pd.concat(frames, ignore_index=True).dropna(subset=["user_id", "event", "event_at"])
    with_id = ev[ev["event_id"].notna()].drop_duplicates("event_id")
    return pd.concat([with_id, ev[ev["event_id"].isna()].drop_duplicates()], ignore_index=True)


def decide(landing: Path, as_of: date | None) -> pd.DataFrame:
    profiles = signups(landing, as_of)
    ev = events(landing, as_of)
    tickets = read_json_lines(landing, "tickets", as_of)
    if as_of is None:  # the last landing day
        as_of = max(f.day for s in ("segment", "mixpanel", "signups") for f in iter_landing_files(landing, s))
    end = pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)
    ev = ev[ev["event_at"] < end]
    ev = ev[ev["user_id"].isin(profiles.index)]
    users = profiles[profiles["signup_at"] < end].copy()
    day_of = (end - pd.Timedelta(days=1)).normalize()
    signup_day = users["signup_at"].dt.normalize()
    users["day_number"] = (day_of - signup_day).dt.days

    # 3.1 milestones: first occurrence of each milestone event
    ms = ev[ev["event"].isin(MILESTONES)].drop_duplicates(["user_id", "event"])
    score = ms["event"].map(MILESTONES).groupby(ms["user_id"]).sum().clip(upper=100)
    users["score"] = score.reindex(users.index).fillna(0)
    users["next_action"] = pd.cut(
        users["score"],
        [-1, 19.999, 49.999, 79.999, 101],
        labels=[
            "complete_first_data_import",
            "invite_team_member",
            "create_integration",
            "schedule_business_review",
        ],
    )
    # 3.3 difficulty
    q = ev[ev["event"].isin(QUERY)]
    first_query = q.groupby("user_id")["event_at"].min().reindex(users.index)
    ttfq = (first_query - users["signup_at"]).dt.total_seconds().clip(lower=0)
    days = users["day_number"].clip(lower=1)
    qpd = q.groupby("user_id").size().reindex(users.index).fillna(0) / days
    age_s = (end - users["signup_at"]).dt.total_seconds()
    advanced = (ttfq < 300) & (qpd > 3)
    simplified = (
        (ttfq > 259200) | (ttfq.isna() & (age_s > 259200)) | ((users["day_number"] >= 3) & (qpd < 0.5))
    )
    users["difficulty"] = np.select([simplified, advanced], ["simplified", "advanced"], "standard")
    # 5.1 churn risk
    last_event = ev.groupby("user_id")["event_at"].max().reindex(users.index)
    last_login_day = pd.concat([last_event.dt.normalize(), signup_day], axis=1).max(axis=1)
    f = ev[ev["event"].isin(FEATURE)].groupby("user_id")["event_at"].max().reindex(users.index)
    last_feature_day = pd.concat([f.dt.normalize(), signup_day], axis=1).max(axis=1)
    down = ev[(ev["page_path"] == DOWNGRADE) & (ev["event_at"] >= day_of - pd.Timedelta(days=6))]
    invited = ev.loc[ev["event"] == "user.invited_teammate", "user_id"].unique()
    open_tickets: set = set()
    if not tickets.empty:
        t = tickets.assign(
            at=pd.to_datetime(tickets["occurred_at"], utc=True, errors="coerce", format="ISO8601")
        )
        # every status change counts (a reopened ticket is a second 'opened'): open when its last change
        # before the end of the day is an opening, as the models replay them
        t = t[t["at"] < end].drop_duplicates(["ticket_id", "status", "at"]).sort_values(["at", "status"])
        last = t.groupby(["ticket_id", "user_id"])["status"].last()
        open_tickets = set(last[last == "opened"].index.get_level_values("user_id"))
    risk = (
        (
            0.25 * ((day_of - last_login_day).dt.days >= 3)
            + 0.30 * ((day_of - last_feature_day).dt.days >= 7)
            + 0.20 * users.index.isin(list(open_tickets))
            + 0.40 * users.index.isin(down["user_id"].unique())
            + 0.15 * ((users["day_number"] >= 14) & ~users.index.isin(invited))
            + 0.30 * (100 - users["score"]) / 100
        )
        .clip(upper=1)
        .round(4)
    )
    monitored = users["day_number"] < 60
    users["churn_risk"] = risk.where(monitored)
    users["risk_action"] = np.select(
        [~monitored, risk >= 0.7, risk >= 0.4],
        ["not_monitored", "emergency_outreach", "automated_nudge"],
        "normal_onboarding",
    )
    users.attrs["events"] = len(ev)
    return users


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("landing", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    started = time.monotonic()
    users = decide(args.landing, args.as_of)
    print(
        json.dumps(
            {
                "users": len(users),
                "events": users.attrs["events"],
                "difficulty": users["difficulty"].value_counts().to_dict(),
                "risk_action": users["risk_action"].value_counts().to_dict(),
                "mean_score": round(float(users["score"].mean()), 2),
                "seconds": round(time.monotonic() - started, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
