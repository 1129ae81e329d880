{#- Feedback themes per ISO week (Monday start) for the team: how many answers each theme got, its share
    of the week, how many came from detractors and from the day-30 "what nearly made you quit" survey, and
    up to three recent example summaries. Reads the classified answers the AI asset writes, through
    stg_ai__feedback_themes. -#}

with

themes as (

    select * from {{ ref('stg_ai__feedback_themes') }}
    where submitted_at is not null

),

dated as (

    select
        response_id,
        survey,
        score,
        theme,
        summary,
        source,
        submitted_at,
        cast({{ dbt.date_trunc('week', 'submitted_at') }} as date) as week_start

    from themes

),

ranked as (

    select
        *,
        row_number() over (partition by week_start, theme order by submitted_at desc, response_id asc) as recency

    from dated

),

examples as (

    select
        week_start,
        theme,
        {{ dbt.listagg('summary', "' | '", 'order by submitted_at desc, response_id') }} as example_summaries

    from ranked
    where recency <= 3
    group by week_start, theme

),

counts as (

    select
        week_start,
        theme,
        cast(count(*) as integer) as responses,
        cast(sum(case when score <= {{ var('nps_detractor_max', 6) }} then 1 else 0 end) as integer)
            as detractor_responses,
        cast(sum(case when survey = 'day_30' then 1 else 0 end) as integer) as day_30_responses,
        avg(cast(score as {{ dbt.type_float() }})) as avg_score,
        cast(sum(case when source in ('llm', 'cache') then 1 else 0 end) as integer) as llm_classified

    from dated
    group by week_start, theme

),

final as (

    select
        counts.week_start,
        cast(extract(year from {{ dbt.dateadd('day', 3, 'counts.week_start') }}) as integer) as iso_year,
        cast(extract(week from counts.week_start) as integer) as iso_week,
        counts.theme,
        counts.responses,
        cast(counts.responses as {{ dbt.type_float() }}) / sum(counts.responses) over (
            partition by counts.week_start
        ) as share_of_week,
        rank() over (partition by counts.week_start order by counts.responses desc) as rank_in_week,
        counts.detractor_responses,
        counts.day_30_responses,
        round(counts.avg_score, 2) as avg_score,
        counts.llm_classified,
        examples.example_summaries

    from counts
    inner join examples
        on
            counts.week_start = examples.week_start
            and counts.theme = examples.theme

)

select * from final
