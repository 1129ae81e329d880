{#- Steps 5.2/5.3 over time. A risk episode is a run of days at the same action (emergency_outreach or
    automated_nudge); a new one starts when the previous day at that action is more than
    var risk_episode_cooldown_days days earlier, so a user hovering around a threshold is not paged daily.
    Escalation (5.3): var escalation_wait_days days after a nudge episode started, if the user is still
    at automated_nudge and the risk has not improved (risk >= the risk at the nudge), escalate to the CSM,
    unless the user's assigned track gives a CSM only on an emergency (track policy csm_only_on_emergency:
    self_service). The check needs its day inside the onboarding period: a nudge episode that starts on
    day onboarding_days - escalation_wait_days (57) or later is not escalated, because from day 60 the
    user's risk is no longer scored and a page about an unmonitored user would have no follow-up
    (docs/rules.md rule 8). -#}

with

risk as (

    select user_id, as_of_date, churn_risk, risk_action
    from {{ ref('int_onboarding__risk_daily') }}

),

escalating_tracks as (

    select tracks.user_id
    from {{ ref('int_onboarding__tracks') }} as tracks
    inner join {{ ref('onboarding_track_policies') }} as policies on tracks.track = policies.track
    where not policies.csm_only_on_emergency

),

at_risk as (

    select
        user_id,
        as_of_date,
        churn_risk,
        risk_action,
        lag(as_of_date) over (partition by user_id, risk_action order by as_of_date) as previous_day_at_action

    from risk
    where risk_action in ('emergency_outreach', 'automated_nudge')

),

flagged as (

    select
        *,
        coalesce(
            {{ days_between('previous_day_at_action', 'as_of_date') }} > {{ var('risk_episode_cooldown_days') }},
            true
        ) as is_new_risk_episode

    from at_risk

),

numbered as (

    select
        *,
        sum(case when is_new_risk_episode then 1 else 0 end) over (
            partition by user_id, risk_action order by as_of_date rows between unbounded preceding and current row
        ) as risk_episode_number

    from flagged

),

episodes as (

    select
        *,
        min(as_of_date) over (
            partition by user_id, risk_action, risk_episode_number
        ) as risk_episode_started_on,
        max(case when is_new_risk_episode then churn_risk end) over (
            partition by user_id, risk_action, risk_episode_number
        ) as risk_at_episode_start

    from numbered

),

final as (

    select
        risk.user_id,
        risk.as_of_date,
        episodes.risk_episode_started_on,
        episodes.risk_episode_number,
        coalesce(episodes.is_new_risk_episode, false) as is_new_risk_episode,
        episodes.risk_at_episode_start,
        coalesce(
            episodes.risk_action = 'automated_nudge'
            and {{ days_between('episodes.risk_episode_started_on', 'episodes.as_of_date') }}
            = {{ var('escalation_wait_days') }}
            and episodes.churn_risk >= episodes.risk_at_episode_start
            and escalating_tracks.user_id is not null,
            false
        ) as is_escalated

    from risk
    left join episodes
        on
            risk.user_id = episodes.user_id
            and risk.as_of_date = episodes.as_of_date
    left join escalating_tracks on risk.user_id = escalating_tracks.user_id

)

select * from final
