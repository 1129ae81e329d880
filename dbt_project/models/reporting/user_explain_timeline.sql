{#- Every user's onboarding timeline as of the last decided day, one row per item: what happened
    (profile, experiment exposures, milestones) and what the engine decided each day it changed (track,
    score, stage, difficulty, risk, CSM), then the messages and CSM alerts. `onboarding explain` and the
    Python asset marts.user_explain (after the sync) read it and add each message's delivery status from
    the sync ledger by delivery_key; `--as-of D` keeps the items with on_date <= D (every item only looks
    back, so the rows up to D are those a timeline built on D would have). -#}

{%- set sections = [
    'profile', 'experiment', 'track', 'milestone', 'score', 'stage', 'difficulty', 'risk', 'csm',
    'message', 'csm_alert',
] %}

with

decided as (

    select max(as_of_date) as as_of_date from {{ ref('user_onboarding_daily') }}

),

users as (

    select profiles.*
    from {{ ref('int_users__profiles') }} as profiles
    cross join decided
    where profiles.signup_date <= decided.as_of_date

),

assignments as (

    select * from {{ ref('int_experiments__assignments') }}

),

milestones as (

    select * from {{ ref('int_onboarding__milestones') }}

),

messages as (

    select * from {{ ref('triggered_messages') }}

),

alerts as (

    select * from {{ ref('csm_alerts') }}

),

decision_items as (

    select * from {{ ref('int_explain__decision_items') }}

),

reached as (

    {%- for m in var('onboarding_milestones') %}
        select
            user_id,
            '{{ m.milestone }}' as milestone,
            {{ m.weight }} as weight,
            {{ m.milestone }}_at as reached_at
        from milestones
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

profile_items as (

    select
        user_id,
        signup_date as on_date,
        signed_up_at as happened_at,
        'profile' as section,
        'signed up' as item,
        concat_ws(
            ', ', name || coalesce(' <' || email || '>', ''), 'company ' || company, 'role ' || role,
            'plan ' || plan, 'company size ' || company_size, 'industry ' || industry,
            'signup source ' || signup_source, 'team size ' || {{ as_text('team_size') }},
            'signed up through ' || provider
        ) as detail,
        cast(null as {{ dbt.type_string() }}) as delivery_key
    from users

),

experiment_items as (

    select
        user_id,
        exposure_date as on_date,
        exposed_at as happened_at,
        'experiment' as section,
        experiment_id || ': ' || variant as item,
        concat_ws(
            ', ', 'bucket ' || {{ as_text('round(bucket, 4)') }},
            case when is_control then 'control: no change' end,
            'track ' || track_override, 'template variant ' || template_variant,
            'nudge after ' || {{ as_text('nudge_silence_hours') }} || ' h of silence'
        ) as detail,
        null as delivery_key
    from assignments

),

milestone_items as (

    select
        user_id,
        cast(reached_at as date) as on_date,
        reached_at as happened_at,
        'milestone' as section,
        milestone as item,
        '+' || {{ as_text('weight') }} || ' points' as detail,
        null as delivery_key
    from reached
    where reached_at is not null

),

message_items as (

    select
        user_id,
        as_of_date as on_date,
        due_at as happened_at,
        'message' as section,
        trigger || ' via ' || channel as item,
        -- the template only when its name says more than the trigger's (welcome_power_user, not nps_survey)
        reason || coalesce(': "' || subject || '"', '')
        || case when template_id <> trigger then ' [template ' || template_id || ']' else '' end as detail,
        message_key as delivery_key
    from messages

),

alert_items as (

    select
        user_id,
        as_of_date as on_date,
        null as happened_at,
        'csm_alert' as section,
        'CSM alert: ' || alert_type || ' to ' || coalesce(csm_name, 'unassigned') as item,
        reason as detail,
        alert_key as delivery_key
    from alerts

),

items as (

    select * from profile_items
    union all
    select * from decision_items
    union all
    select * from experiment_items
    union all
    select * from milestone_items
    union all
    select * from message_items
    union all
    select * from alert_items

),

ordered as (

    select
        items.user_id,
        items.on_date,
        {{ dbt.datediff('users.signup_date', 'items.on_date', 'day') }} as day_number,
        items.happened_at,
        items.section,
        items.item,
        items.detail,
        items.delivery_key,
        row_number() over (
            partition by items.user_id
            order by
                items.on_date,
                -- what happened at a time in the day's time order (a message due at 14:30 before a
                -- milestone at 15:14); the day's decisions, taken at its end, after them; then the
                -- messages and alerts they triggered (due at the day's end or later)
                coalesce(items.happened_at, {{ dbt.dateadd('day', 1, 'items.on_date') }}),
                case
                    when items.section in ('profile', 'experiment', 'milestone') then 0
                    when items.section in ('message', 'csm_alert') then 2
                    else 1
                end,
                case items.section
                    {%- for section in sections %}
                        when '{{ section }}' then {{ loop.index0 }}
                    {%- endfor %}
                end,
                items.item,
                items.detail,
                items.delivery_key
        ) as seq,
        decided.as_of_date

    from items
    inner join users on items.user_id = users.user_id
    cross join decided

),

final as (

    select * from ordered

)

select * from final
