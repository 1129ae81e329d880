{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='append_new_columns',
    )
}}

{#- The memory of every message situation ever keyed: one row per (trigger, user_id, discriminator), the
    discriminator it was first keyed with. Append-only, never deleted by a partition window and kept by
    `--full-refresh` (full_refresh=false): the sync's idempotency key of a situation is decided once.

    Why: episode and silence discriminators are data-derived timestamps (the risk episode's first day,
    off_track_since, silent_since). A late event can move them; without this memory the moved situation
    would get a second key and its customer a second message. A situation that matches a known key (same
    trigger and user, and the same discriminator or an anchor less than match_seconds away, see
    int_messages__situations) is that situation and adds no row; int_messages__candidates gives it the
    known key's discriminator. -#}

with

situations as (

    select trigger, user_id, discriminator, as_of_date, anchor_at, match_seconds
    from {{ ref('int_messages__situations') }}

),

known_keys as (

    {% if is_incremental() -%}
        select trigger, user_id, discriminator, anchor_at from {{ this }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as trigger,
            cast(null as {{ dbt.type_string() }}) as user_id,
            cast(null as {{ dbt.type_string() }}) as discriminator,
            cast(null as {{ dbt.type_timestamp() }}) as anchor_at
        where 1 = 0
    {%- endif %}

),

matched as (

    select distinct
        situations.trigger,
        situations.user_id,
        situations.discriminator
    from situations
    inner join known_keys
        on {{ same_situation('situations', 'known_keys') }}

),

final as (

    select
        situations.trigger,
        situations.user_id,
        situations.discriminator,
        situations.anchor_at,
        situations.as_of_date as first_as_of_date

    from situations
    left join matched
        on
            situations.trigger = matched.trigger
            and situations.user_id = matched.user_id
            and situations.discriminator = matched.discriminator
    where matched.trigger is null

)

select * from final
