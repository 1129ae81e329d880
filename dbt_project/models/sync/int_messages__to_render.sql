{{ config(schema='intermediate', materialized='view') }}

{#- Every message situation with what its rendering needs, before any escaping: the template it gets (an
    experiment's template variant first, then the track's template, then the generic one), the decision
    row of its day, the user's name and company, the track's and industry's content (the default
    industry's where the industry has none), the CSM, the booking-link template and the AI playbook.
    Each placeholder's value is raw_<key> (macro message_placeholders). A view that only
    triggered_messages reads: split from it so that the joins and the rendering each read on their own;
    the model renders only the situations that have no row yet, so the view's rows for the others are
    never escaped or rendered. -#}

with

candidates as (

    select * from {{ ref('int_messages__candidates') }}

),

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

profiles as (

    select user_id, name, company from {{ ref('int_users__profiles') }}

),

templates as (

    select * from {{ ref('onboarding_message_templates') }}
    where channel <> 'csm_alert'

),

track_content as (

    select * from {{ ref('onboarding_track_content') }}

),

industry_content as (

    select * from {{ ref('onboarding_industry_content') }}

),

roster as (

    select csm_id, csm_name, calendly_event_type from {{ ref('csm_roster') }}

),

-- Experiments: a variant may switch a user's templates to those of its template_variant.
overrides as (

    select user_id, template_variant from {{ ref('int_experiments__user_overrides') }}

),

-- The day-14 playbook written by the AI step (LLM or its template fallback), sanitised HTML.
playbooks as (

    select user_id, subject, html, status, prompt_version from {{ ref('stg_ai__playbooks') }}

),

template_choices as (

    select
        candidates.trigger,
        candidates.user_id,
        candidates.discriminator,
        templates.template_id,
        row_number() over (
            partition by candidates.trigger, candidates.user_id, candidates.discriminator
            order by
                case when templates.template_variant is null then 1 else 0 end,
                case when templates.track is null then 1 else 0 end
        ) as preference

    from candidates
    inner join history
        on
            candidates.user_id = history.user_id
            and candidates.as_of_date = history.as_of_date
    left join overrides on candidates.user_id = overrides.user_id
    inner join templates
        on
            candidates.trigger = templates.trigger
            and (templates.track is null or history.effective_track = templates.track)
            and (templates.template_variant is null or overrides.template_variant = templates.template_variant)

),

final as (

    select
        candidates.trigger,
        candidates.user_id,
        candidates.discriminator,
        candidates.due_at,
        candidates.reason,
        candidates.as_of_date,
        history.rule_version,
        templates.template_id,
        templates.template_version,
        templates.channel,
        templates.priority,
        templates.needs_booking_link,
        templates.subject as template_subject,
        templates.body as template_body,
        booking.body as booking_template,
        playbooks.subject as playbook_subject,
        playbooks.html as playbook_html,
        {{ dbt.concat(["'ai.playbooks '", 'playbooks.status', "' '", 'playbooks.prompt_version']) }}
            as playbook_version,
        coalesce(templates.calendly_event_type, roster.calendly_event_type) as calendly_event_type,
        {%- for key, expr in message_placeholders().items() %}
            {{ expr }} as raw_{{ key }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from candidates
    inner join template_choices
        on
            candidates.trigger = template_choices.trigger
            and candidates.user_id = template_choices.user_id
            and candidates.discriminator = template_choices.discriminator
            and template_choices.preference = 1
    inner join templates on template_choices.template_id = templates.template_id
    inner join history
        on
            candidates.user_id = history.user_id
            and candidates.as_of_date = history.as_of_date
    inner join profiles on candidates.user_id = profiles.user_id
    left join track_content on history.effective_track = track_content.track
    left join industry_content on history.industry = industry_content.industry
    left join industry_content as default_content on 'default' = default_content.industry
    left join roster on history.csm_id = roster.csm_id
    left join templates as booking on booking.trigger = 'booking_link'
    left join playbooks
        on
            candidates.user_id = playbooks.user_id
            and candidates.trigger = 'playbook_day_14'

)

select * from final
