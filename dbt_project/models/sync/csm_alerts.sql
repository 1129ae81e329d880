{#- Slack #csm-alerts (5.2, 5.3, NPS tip): one alert per emergency risk episode, per escalation (nudge
    not improved after var escalation_wait_days days) and per NPS detractor answer, with the seed's fields
    and a rendered plain-text fallback. A pure function of the decision history.

    Keyed like the customer messages (int_messages__situation_keys): a risk episode's alerts take the
    discriminator its message situation (csm_outreach for an emergency episode, risk_nudge for the nudge
    episode an escalation follows) was first keyed with, not the episode's first day as the data says
    today, so late data that moves the episode's start cannot page the CSM a second time. -#}

with

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

candidates as (

    select * from {{ ref('int_messages__candidates') }}
    where trigger = 'nps_detractor_outreach'

),

-- Each risk episode's key discriminator, by the day the episode started (its situation's as_of_date).
episode_keys as (

    select trigger, user_id, as_of_date as started_on, discriminator
    from {{ ref('int_messages__candidates') }}
    where trigger in ('csm_outreach', 'risk_nudge')

),

profiles as (

    select user_id, name, company from {{ ref('int_users__profiles') }}

),

templates as (

    select trigger, body from {{ ref('onboarding_message_templates') }}
    where channel = 'csm_alert'

),

roster as (

    select csm_id, csm_name, csm_slack_id from {{ ref('csm_roster') }}

),

alerts as (

    select
        'churn_risk' as alert_type,
        history.user_id,
        history.as_of_date,
        coalesce(episode_keys.discriminator, {{ as_text('history.risk_episode_started_on') }}) as discriminator,
        {{ dbt.concat([
            "'churn risk '", as_text('history.churn_risk'),
            "' >= " ~ var('risk_action_bands')[0]['min'] ~ ", factors '", 'history.risk_factors'
        ]) }} as reason,
        cast(null as {{ dbt.type_string() }}) as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from history
    left join episode_keys
        on
            episode_keys.trigger = 'csm_outreach'
            and history.user_id = episode_keys.user_id
            and history.risk_episode_started_on = episode_keys.started_on
    where history.is_new_risk_episode and history.risk_action = 'emergency_outreach'

    union all

    select
        'escalation' as alert_type,
        history.user_id,
        history.as_of_date,
        coalesce(episode_keys.discriminator, {{ as_text('history.risk_episode_started_on') }}) as discriminator,
        {{ dbt.concat([
            "'churn risk '", as_text('history.churn_risk'), "' not improved since the nudge on '",
            as_text('history.risk_episode_started_on'), "' (was '", as_text('history.risk_at_episode_start'), "')'"
        ]) }} as reason,
        cast(null as {{ dbt.type_string() }}) as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from history
    left join episode_keys
        on
            episode_keys.trigger = 'risk_nudge'
            and history.user_id = episode_keys.user_id
            and history.risk_episode_started_on = episode_keys.started_on
    where history.is_escalated

    union all

    select
        'nps_detractor' as alert_type,
        user_id,
        as_of_date,
        discriminator,
        reason,
        survey,
        nps_score,
        nps_comment
    from candidates

),

final as (

    select
        {{ dbt.hash(dbt.concat(['alerts.alert_type', "'|'", 'alerts.user_id', "'|'", 'alerts.discriminator'])) }}
            as alert_key,
        alerts.user_id,
        alerts.as_of_date,
        alerts.alert_type,
        profiles.name as user_name,
        profiles.company,
        history.churn_risk,
        history.days_since_last_login,
        history.unresolved_tickets,
        roster.csm_name,
        roster.csm_slack_id,
        {{ render_template('templates.body', {
            'name': 'profiles.name',
            'company': 'profiles.company',
            'churn_risk': 'history.churn_risk',
            'previous_churn_risk': 'history.risk_at_episode_start',
            'days_since_last_login': 'history.days_since_last_login',
            'unresolved_tickets': 'history.unresolved_tickets',
            'csm_name': "coalesce(roster.csm_name, 'unassigned')",
            'escalation_wait_days': "'" ~ var('escalation_wait_days') ~ "'",
            'survey': 'alerts.survey',
            'nps_score': 'alerts.nps_score',
            'nps_comment': 'alerts.nps_comment',
        }) }} as text,
        alerts.reason,
        alerts.survey,
        alerts.nps_score,
        alerts.nps_comment,
        history.rule_version

    from alerts
    inner join history
        on
            alerts.user_id = history.user_id
            and alerts.as_of_date = history.as_of_date
    inner join profiles on alerts.user_id = profiles.user_id
    inner join templates on alerts.alert_type = templates.trigger
    left join roster on history.csm_id = roster.csm_id

)

select * from final
