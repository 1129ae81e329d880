{{
    config(
        materialized=engine_keyed_materialization(),
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{#- One row per real event across Segment, RudderStack and Mixpanel.
    A Mixpanel event whose $insert_id equals a Segment messageId is the same event; the Segment copy
    wins (it carries the anonymousId and context). Incremental by landing day: a run takes the raw
    rows of the partition window, plus earlier anonymous rows whose anonymousId got linked in it.

    Mixpanel events are one event per (event, distinct_id, time, $insert_id), as Mixpanel itself and the
    raw layer dedupe them (dagster_project/ingest/sources.py): two lines that share an $insert_id but not
    the rest are two events. The first of them to land (then by time, name, user) keeps the $insert_id
    as its event_id, so ids already stored never change; a later one gets `<insert_id>#<md5 of the
    tuple>`. Every ranking below orders on columns that together identify a row. -#}

with

identity_map as (

    select * from {{ ref('int_users__identity_map') }}

),

newly_linked as (

    select anonymous_id from identity_map
    where {{ in_window('loaded_day') }}

),

tracks as (

    select
        message_id as event_id,
        user_id,
        anonymous_id,
        event_name,
        event_at,
        cast(null as {{ dbt.type_string() }}) as page_path,
        properties,
        source_system as source,  -- noqa: RF04
        loaded_day,
        1 as source_priority
    from {{ ref('stg_segment__tracks') }}

),

pages as (

    select
        message_id as event_id,
        user_id,
        anonymous_id,
        'page_viewed' as event_name,
        event_at,
        page_path,
        properties,
        source_system as source,  -- noqa: RF04
        loaded_day,
        1 as source_priority
    from {{ ref('stg_segment__pages') }}

),

mixpanel_events as (

    select insert_id, user_id, event_name, event_at, properties, loaded_day
    from {{ ref('stg_mixpanel__events') }}

),

-- Each Mixpanel event's place among the events sharing its $insert_id (first landed first).
mixpanel_numbered as (

    select
        *,
        row_number() over (
            partition by insert_id
            order by loaded_day, event_at, event_name, user_id
        ) as insert_id_rank
    from mixpanel_events
    where
        insert_id in (
            select in_scope_ids.insert_id from mixpanel_events as in_scope_ids
            where {{ in_window('in_scope_ids.loaded_day') }}
        )

),

mixpanel as (

    select
        case
            when insert_id_rank = 1 then insert_id
            else {{ dbt.concat([
                'insert_id', "'#'",
                dbt.hash(dbt.concat(['event_name', "'|'", 'user_id', "'|'", as_text('event_at')])),
            ]) }}
        end as event_id,
        user_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        event_name,
        event_at,
        cast(null as {{ dbt.type_string() }}) as page_path,
        properties,
        'mixpanel' as source,  -- noqa: RF04
        loaded_day,
        2 as source_priority
    from mixpanel_numbered

),

all_events as (

    select * from tracks
    union all
    select * from pages
    union all
    select * from mixpanel

),

in_scope as (

    select * from all_events
    where
        {{ in_window('loaded_day') }}
        {% if is_incremental() %}
            or anonymous_id in (select newly_linked.anonymous_id from newly_linked)
        {% endif %}

),

{% if is_incremental() %}
    already_from_segment as (

        select event_id from {{ this }}
        where source <> 'mixpanel'

    ),
{% endif %}

ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by source_priority, loaded_day, event_at, source, event_name, user_id, anonymous_id
        ) as copy_rank
    from in_scope
    {% if is_incremental() %}
        where
            not (
                source = 'mixpanel'
                and event_id in (select already_from_segment.event_id from already_from_segment)
            )
    {% endif %}

),

final as (

    select
        ranked.event_id,
        coalesce(ranked.user_id, identity_map.user_id) as user_id,
        ranked.anonymous_id,
        ranked.event_name,
        ranked.event_at,
        cast(ranked.event_at as date) as event_date,
        ranked.page_path,
        ranked.properties,
        ranked.source,
        ranked.loaded_day

    from ranked
    left join identity_map
        on ranked.anonymous_id = identity_map.anonymous_id
    where ranked.copy_rank = 1

)

select * from final
