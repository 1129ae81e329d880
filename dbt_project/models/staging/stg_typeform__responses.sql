{#- One row per answer of every Typeform response, whatever the form: the stakeholder map, the day-30
    survey and any later form read the same rows and filter on form_id (vars typeform_*_form_id). -#}

with

source as (

    select * from {{ source('raw', 'typeform_responses') }}

),

answers as (

    select
        token,
        form_id,
        event_id,
        submitted_at,
        hidden,
        _partition_day,
        answer_rows.answer,
        answer_rows.answer_position

    from source
    {{ json_array_rows('answers', 'answer_rows', 'answer', 'answer_position') }}

),

renamed as (

    select
        token as response_token,
        form_id,
        event_id,
        nullif(trim({{ json_str('hidden', 'user_id') }}), '') as user_id,
        answer_position,
        {{ json_str('answer', 'field.ref') }} as question_ref,
        {{ json_str('answer', 'field.type') }} as question_type,
        {{ json_str('answer', 'type') }} as answer_type,
        case {{ json_str('answer', 'type') }}
            when 'choice'
                then coalesce(
                        {{ json_str('answer', 'choice.label') }}, {{ json_str('answer', 'choice.other') }}
                    )
            when 'choices' then {{ json_get('answer', 'choices.labels') }}
            else coalesce(
                    {{ json_str('answer', 'text') }},
                    {{ json_str('answer', 'email') }},
                    {{ json_str('answer', 'url') }},
                    {{ json_str('answer', 'date') }},
                    {{ json_str('answer', 'phone_number') }},
                    {{ json_str('answer', 'file_url') }},
                    {{ json_get('answer', 'number') }},
                    {{ json_get('answer', 'boolean') }}
                )
        end as answer_text,
        case
            when {{ json_str('answer', 'type') }} = 'choice'
                then coalesce({{ json_str('answer', 'choice.label') }}, {{ json_str('answer', 'choice.other') }})
        end as answer_choice,
        submitted_at,
        _partition_day as loaded_day

    from answers

)

select * from renamed
