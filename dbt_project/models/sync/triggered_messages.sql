{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_window(this) }}",
        on_schema_change='append_new_columns',
    )
}}

{#- One row per message that should exist, rendered from the template seed. message_key is a hash of
    (trigger, user_id, the situation's discriminator), so the same situation always gets the same key and a
    re-run never adds a second row for it. Messages whose template needs a booking link carry the literal
    {{ '{{' }}booking_link}} and point (booking_link_key) at their own calendly row.

    Escaped for the destination at render time, because names, companies and event properties are typed
    by anyone: Intercom bodies are HTML (the template's text escaped and its Markdown links made links,
    then every value HTML-escaped, link targets kept only when they are plain http(s) URLs), Appcues and
    Calendly bodies are JSON (values as JSON string content), the Slack invite row's text is mrkdwn.
    Subjects are plain text and keep the values as they are. The AI playbook is already sanitised HTML.

    Incremental, because rendering every message of the history is the costliest step of a daily run: a
    run first deletes the partition window's rows (the pre-hook; without window vars, every row), then
    renders each situation that has no row, i.e. the window's and any older one that late data added.
    A situation keeps its as_of_date, so rows outside the window stay as they were rendered; changed
    templates reach old rows with `--full-refresh` (docs/rules.md). -#}

{#- Placeholder -> the SQL giving its value (columns of `message_values`). -#}
{%- set values = {
    'name': 'profiles.name',
    'company': 'profiles.company',
    'plan': 'history.plan',
    'industry': 'history.industry',
    'track': 'history.effective_track',
    'effective_track': 'history.effective_track',
    'product_name': "'" ~ var('product_name') ~ "'",
    'first_action_track': 'track_content.first_action',
    'video_title': 'track_content.video_title',
    'video_url': 'track_content.video_url',
    'appcues_flow_id': 'track_content.appcues_flow_id',
    'content_difficulty': 'history.difficulty_level',
    'similar_company': 'coalesce(industry_content.similar_company, default_content.similar_company)',
    'industry_tool': 'coalesce(industry_content.industry_tool, default_content.industry_tool)',
    'metric': 'coalesce(industry_content.success_metric, default_content.success_metric)',
    'industry_benchmark': 'coalesce(industry_content.industry_benchmark, default_content.industry_benchmark)',
    'results_stat': 'coalesce(industry_content.results_stat, default_content.results_stat)',
    'case_study_url': 'coalesce(industry_content.case_study_url, default_content.case_study_url)',
    'integration_name': 'candidates.integration_name',
    'unused_feature': 'candidates.unused_feature',
    'feature_video_url': 'candidates.feature_video_url',
    'csm_name': 'roster.csm_name',
    'onboarding_score': 'history.onboarding_score',
    'next_action_label': "replace(history.next_action, '_', ' ')",
    'records_imported': 'history.records_imported',
    'integration_count': 'history.integration_count',
    'team_size': 'history.team_size',
    'churn_risk': 'history.churn_risk',
    'days_since_last_login': 'history.days_since_last_login',
    'unresolved_tickets': 'history.unresolved_tickets',
    'survey': 'candidates.survey',
    'nps_score': 'candidates.nps_score',
} %}
{#- Placeholders that are link targets: in an HTML body only a plain http(s) URL is kept. -#}
{%- set url_keys = ['video_url', 'case_study_url', 'feature_video_url'] %}
{%- set placeholders = values.keys() | list %}
{%- set first_half = {} %}
{%- set second_half = {} %}
{%- set first_half_raw = {} %}
{%- set second_half_raw = {} %}
{%- for key in placeholders %}
    {%- if loop.index <= (placeholders | length) // 2 %}
        {%- do first_half.update({key: 'value_' ~ key}) %}{% do first_half_raw.update({key: 'raw_' ~ key}) %}
    {%- else %}
        {%- do second_half.update({key: 'value_' ~ key}) %}{% do second_half_raw.update({key: 'raw_' ~ key}) %}
    {%- endif %}
{%- endfor %}

with

all_candidates as (

    select * from {{ ref('int_messages__candidates') }}

),

-- The messages earlier runs rendered (none on a full build).
rendered_keys as (

    {% if is_incremental() -%}
        select message_key from {{ this }}
    {%- else -%}
        select cast(null as {{ dbt.type_string() }}) as message_key
        where 1 = 0
    {%- endif %}

),

-- The situations to render: those without a row (see the header).
candidates as (

    select all_candidates.*
    from all_candidates
    left join rendered_keys
        on
            {{ message_key('all_candidates.trigger', 'all_candidates.user_id', 'all_candidates.discriminator') }}
            = rendered_keys.message_key
    where rendered_keys.message_key is null

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

message_values as (

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
        -- Intercom renders bodies as HTML: the seed's text escaped, its Markdown links made real links.
        case
            when templates.channel in {{ html_channels() }} then {{ template_as_html('templates.body') }}
            else templates.body
        end as template_body,
        booking.body as booking_template,
        playbooks.subject as playbook_subject,
        playbooks.html as playbook_html,
        {{ dbt.concat(["'ai.playbooks '", 'playbooks.status', "' '", 'playbooks.prompt_version']) }}
            as playbook_version,
        coalesce(templates.calendly_event_type, roster.calendly_event_type) as calendly_event_type,
        {%- for key, expr in values.items() %}
            {{ expr }} as raw_{{ key }},
            -- escaped for the row's destination (bodies); subjects take raw_ (plain text)
            {{ escape_for_channel(
                'templates.channel',
                'coalesce(' ~ as_text(expr) ~ ", '')",
                'url' if key in url_keys else 'text',
            ) }} as value_{{ key }}{% if not loop.last %},{% endif %}
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

),

half_rendered as (

    select
        *,
        {{ render_template('template_subject', first_half_raw) }} as subject_draft,
        {{ render_template('template_body', first_half) }} as body_draft

    from message_values

),

rendered as (

    select
        {{ message_key('trigger', 'user_id', 'discriminator') }} as message_key,
        user_id,
        trigger,
        channel,
        coalesce(playbook_subject, {{ render_template('subject_draft', second_half_raw) }}) as subject,
        coalesce(playbook_html, {{ render_template('body_draft', second_half) }}) as body,
        needs_booking_link,
        {{ dbt.hash(dbt.concat(["'booking_link|'", 'user_id', "'|'", 'trigger', "':'", 'discriminator'])) }}
            as booking_key,
        {{ render_template('booking_template', {
            'calendly_event_type': 'calendly_event_type',
            'for_trigger': 'trigger',
        }, "'calendly'") }} as booking_body,
        priority,
        due_at,
        reason,
        rule_version,
        as_of_date,
        discriminator,
        template_id,
        coalesce(playbook_version, template_version) as template_version

    from half_rendered

),

messages as (

    select
        message_key,
        user_id,
        trigger,
        channel,
        subject,
        body,
        case when needs_booking_link then booking_key end as booking_link_key,
        priority,
        due_at,
        reason,
        rule_version,
        as_of_date,
        discriminator,
        template_id,
        template_version

    from rendered

    union all

    select
        booking_key as message_key,
        user_id,
        'booking_link' as trigger,
        'calendly' as channel,
        cast(null as {{ dbt.type_string() }}) as subject,
        booking_body as body,
        cast(null as {{ dbt.type_string() }}) as booking_link_key,
        priority,
        due_at,
        {{ dbt.concat(["'single-use booking link for '", 'trigger', "' ('", 'reason', "')'"]) }} as reason,
        rule_version,
        as_of_date,
        {{ dbt.concat(['trigger', "':'", 'discriminator']) }} as discriminator,
        'booking_link' as template_id,
        template_version

    from rendered
    where needs_booking_link

),

final as (

    select
        message_key,
        user_id,
        trigger,
        channel,
        subject,
        body,
        booking_link_key,
        priority,
        due_at,
        reason,
        rule_version,
        as_of_date,
        discriminator,
        template_id,
        template_version

    from (
        select
            *,
            row_number() over (partition by message_key order by as_of_date, due_at) as copy_rank
        from messages
    ) as deduplicated
    where copy_rank = 1

)

select * from final
