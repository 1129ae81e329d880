{{
    config(
        materialized='incremental',
        incremental_strategy=engine_incremental_strategy('append'),
        partition_by=engine_partition_by('as_of_date'),
        pre_hook="{{ delete_window(this) }}",
        on_schema_change='append_new_columns',
    )
}}

{#- One row per message that should exist, rendered from the template seed. message_key is a hash of
    (trigger, user_id, the situation's discriminator), so the same situation always gets the same key and a
    re-run never adds a second row for it. Messages whose template needs a booking link carry the literal
    {{ '{{' }}booking_link}} and point (booking_link_key) at their own calendly row. The joins that gather each
    situation's template and values are int_messages__to_render's; this model escapes and renders.

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

{#- Placeholders: the keys of message_placeholders (their raw values are int_messages__to_render's raw_<key>). -#}
{%- set placeholders = message_placeholders().keys() | list %}
{#- Placeholders that are link targets: in an HTML body only a plain http(s) URL is kept. -#}
{%- set url_keys = ['video_url', 'case_study_url', 'feature_video_url', 'form_link'] %}
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

-- Every situation with its template, decision row, profile and content (the joins).
to_render as (

    select * from {{ ref('int_messages__to_render') }}

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

-- The situations to render: those without a row (see the header), with every value escaped.
message_values as (

    select
        to_render.trigger,
        to_render.user_id,
        to_render.discriminator,
        to_render.due_at,
        to_render.reason,
        to_render.as_of_date,
        to_render.rule_version,
        to_render.template_id,
        to_render.template_version,
        to_render.channel,
        to_render.priority,
        to_render.needs_booking_link,
        to_render.template_subject,
        -- Intercom renders bodies as HTML: the seed's text escaped, its Markdown links made real links.
        case
            when to_render.channel in {{ html_channels() }} then {{ template_as_html('to_render.template_body') }}
            else to_render.template_body
        end as template_body,
        to_render.booking_template,
        to_render.playbook_subject,
        to_render.playbook_html,
        to_render.playbook_version,
        to_render.calendly_event_type,
        {%- for key in placeholders %}
            to_render.raw_{{ key }},
            -- escaped for the row's destination (bodies); subjects take raw_ (plain text)
            {{ escape_for_channel(
                'to_render.channel',
                'coalesce(' ~ as_text('to_render.raw_' ~ key) ~ ", '')",
                'url' if key in url_keys else 'text',
            ) }} as value_{{ key }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from to_render
    left join rendered_keys
        on
            {{ message_key('to_render.trigger', 'to_render.user_id', 'to_render.discriminator') }}
            = rendered_keys.message_key
    where rendered_keys.message_key is null

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
        -- an Intercom link whose unsafe target was emptied keeps its label only (other channels' values
        -- are escaped so that they cannot spell `<a href="">`)
        coalesce(playbook_html, {{ unlink_empty_links(render_template('body_draft', second_half)) }}) as body,
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
            row_number() over (
                partition by message_key
                order by as_of_date, due_at, trigger, discriminator, template_id, channel, body
            ) as copy_rank
        from messages
    ) as deduplicated
    where copy_rank = 1

)

select * from final
