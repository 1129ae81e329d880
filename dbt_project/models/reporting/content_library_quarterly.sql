{#- The day-30 loop's quarterly content-library report (the seed's feedback-loop tip): per quarter, the
    themes of the "What nearly made you quit?" answers (the surveys of var content_library_surveys, as
    the AI themes step classified them: stg_ai__feedback_themes), ranked by how many answers name them,
    with what to add or fix in the onboarding content (seed onboarding_content_themes), the tracks the
    answers came from and up to var content_library_quotes example quotes. The quotes are the themes
    step's one-line summaries, written from the scrubbed answer (no name, company, email, phone or URL,
    docs/ai.md), never the raw comment. `python -m dagster_project.content_report` renders it as
    data/reports/content_library_<quarter>.md. -#}

with

answers as (

    select response_id, user_id, theme, summary, submitted_at
    from {{ ref('stg_ai__feedback_themes') }}
    where
        survey in (
            {%- for survey in var('content_library_surveys') %}
                '{{ survey }}'{% if not loop.last %},{% endif %}
            {%- endfor %}
        )

),

users as (

    select user_id, track from {{ ref('user_onboarding') }}

),

content as (

    select theme, content_action, content_item, reason from {{ ref('onboarding_content_themes') }}

),

dated as (

    select
        answers.response_id,
        answers.theme,
        answers.summary,
        answers.submitted_at,
        coalesce(users.track, 'unknown') as track,
        {{ dbt.concat([
            as_text('extract(year from answers.submitted_at)'), "'-Q'",
            as_text('extract(quarter from answers.submitted_at)'),
        ]) }} as quarter  -- noqa: RF04

    from answers
    left join users on answers.user_id = users.user_id

),

theme_counts as (

    select quarter, theme, count(*) as answers
    from dated
    group by quarter, theme

),

quarter_counts as (

    select quarter, count(*) as quarter_answers
    from dated
    group by quarter

),

track_counts as (

    select quarter, theme, track, count(*) as answers
    from dated
    group by quarter, theme, track

),

tracks as (

    select
        quarter,
        theme,
        {{ dbt.listagg(
            dbt.concat(['track', "' ('", as_text('answers'), "')'"]),
            "', '",
            'order by answers desc, track',
        ) }} as tracks
    from track_counts
    group by quarter, theme

),

quotes_ranked as (

    select
        quarter,
        theme,
        summary,
        row_number() over (
            partition by quarter, theme order by min(submitted_at) desc, summary
        ) as quote_rank
    from dated
    where summary is not null and trim(summary) <> ''
    group by quarter, theme, summary

),

quotes as (

    select
        quarter,
        theme,
        {{ dbt.listagg('summary', "' | '", 'order by quote_rank') }} as example_quotes
    from quotes_ranked
    where quote_rank <= {{ var('content_library_quotes') }}
    group by quarter, theme

),

final as (

    select
        theme_counts.quarter,
        row_number() over (
            partition by theme_counts.quarter
            order by
                case when coalesce(content.content_action, 'add') = 'none' then 1 else 0 end asc,
                theme_counts.answers desc,
                theme_counts.theme asc
        ) as theme_rank,
        theme_counts.theme,
        theme_counts.answers,
        round(100.0 * theme_counts.answers / quarter_counts.quarter_answers, 1) as share_pct,
        coalesce(content.content_action, 'add') as content_action,
        case
            when content.theme is null
                then {{ dbt.concat(["'content for the new theme '", 'theme_counts.theme']) }}
            else content.content_item
        end as content_item,
        content.reason,
        tracks.tracks,
        quotes.example_quotes

    from theme_counts
    inner join quarter_counts on theme_counts.quarter = quarter_counts.quarter
    left join content on theme_counts.theme = content.theme
    left join tracks
        on
            theme_counts.quarter = tracks.quarter
            and theme_counts.theme = tracks.theme
    left join quotes
        on
            theme_counts.quarter = quotes.quarter
            and theme_counts.theme = quotes.theme

)

select * from final
