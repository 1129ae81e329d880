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


{#- One trigger family's situations in the common shape of int_messages__situations: the key and timing
    columns, then every template-value column, each taken from `values` (column -> SQL expression over
    the family's relation) or null when the family has none. One list of value columns, so a new one is
    added once and every family gets it. -#}
{% macro situation_family(relation, values={}) -%}
    {%- set value_columns = [
        ('integration_name', dbt.type_string()),
        ('survey', dbt.type_string()),
        ('nps_score', dbt.type_int()),
        ('nps_comment', dbt.type_string()),
        ('content_key', dbt.type_string()),
        ('content_label', dbt.type_string()),
        ('content_url', dbt.type_string()),
    ] -%}
    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        {%- for name, type in value_columns %}
        {{ values.get(name, 'cast(null as ' ~ type ~ ')') }} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
{%- endmacro %}
