{#- What the experiments change for each enrolled user, one row per user: the track override, the message
    template variant and the re-engagement delay, each from the highest-priority experiment (lowest
    priority number) whose variant sets it. The decision models join this by user_id; a user in no
    experiment (or in a control) has no row or null columns, and gets the rules' decisions. -#}

with

assignments as (

    select * from {{ ref('int_experiments__assignments') }}

),

users as (

    select distinct user_id from assignments

),

track_choices as (

    select
        user_id,
        track_override,
        experiment_id,
        variant,
        row_number() over (partition by user_id order by experiment_priority) as choice_rank

    from assignments
    where track_override is not null

),

template_choices as (

    select
        user_id,
        template_variant,
        experiment_id,
        row_number() over (partition by user_id order by experiment_priority) as choice_rank

    from assignments
    where template_variant is not null

),

nudge_choices as (

    select
        user_id,
        nudge_silence_hours,
        experiment_id,
        row_number() over (partition by user_id order by experiment_priority) as choice_rank

    from assignments
    where nudge_silence_hours is not null

),

final as (

    select
        users.user_id,
        track_choices.track_override,
        track_choices.experiment_id as track_override_experiment,
        case
            when track_choices.track_override is not null
                then {{ dbt.concat([
                    "'experiment '", 'track_choices.experiment_id', "', variant '", 'track_choices.variant',
                    "': track '", 'track_choices.track_override',
                ]) }}
        end as track_override_reason,
        template_choices.template_variant,
        template_choices.experiment_id as template_variant_experiment,
        nudge_choices.nudge_silence_hours,
        nudge_choices.experiment_id as nudge_experiment

    from users
    left join track_choices
        on
            users.user_id = track_choices.user_id
            and track_choices.choice_rank = 1
    left join template_choices
        on
            users.user_id = template_choices.user_id
            and template_choices.choice_rank = 1
    left join nudge_choices
        on
            users.user_id = nudge_choices.user_id
            and nudge_choices.choice_rank = 1

)

select * from final
