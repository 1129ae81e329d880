{#- Whether a situation of today is one a key was already given to (the late-data rule, docs/rules.md):
    the same trigger and user, and either the same discriminator or an anchor within the situation's
    match window (a late event moved its start, not a new situation). One definition for the model that
    remembers keys and the one that hands them out. -#}
{% macro same_situation(situation, known) -%}
    {{ situation }}.trigger = {{ known }}.trigger
    and {{ situation }}.user_id = {{ known }}.user_id
    and (
        {{ situation }}.discriminator = {{ known }}.discriminator
        or (
            {{ situation }}.match_seconds > 0
            and abs({{ seconds_between(known ~ '.anchor_at', situation ~ '.anchor_at') }})
            < {{ situation }}.match_seconds
        )
    )
{%- endmacro %}


{#- The content columns (a power-up's feature, the survey link) of a situation family that has none. -#}
{% macro no_content() -%}
    cast(null as {{ dbt.type_string() }}) as content_key,
    cast(null as {{ dbt.type_string() }}) as content_label,
    cast(null as {{ dbt.type_string() }}) as content_url
{%- endmacro %}
