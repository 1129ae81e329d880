{#- Small helpers for the onboarding decision models. Everything expands to dbt cross-database macros or
    ANSI SQL so the models can move to Spark. -#}

{#- The end of as-of day D: decisions for D see only events with event_at < D + 1 day. -#}
{% macro as_of_end(date_column) -%}
    cast({{ dbt.dateadd('day', 1, date_column) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- Whole calendar days from one date to a later one. -#}
{% macro days_between(from_date, to_date) -%}
    {{ dbt.datediff(from_date, to_date, 'day') }}
{%- endmacro %}


{#- Seconds (with microseconds) from one timestamp to a later one. -#}
{% macro seconds_between(from_ts, to_ts) -%}
    ({{ dbt.datediff(from_ts, to_ts, 'microsecond') }} / 1000000.0)
{%- endmacro %}


{#- Fill {{ '{{' }}placeholder}}s of a template column: values maps placeholder -> SQL expression. Missing values
    render as ''; placeholders not in `values` (e.g. {{ '{{' }}booking_link}}) are left for the sync. Nothing is
    escaped here: the sync escapes per destination. -#}
{% macro render_template(template, values) -%}
    {%- set ns = namespace(sql=template) -%}
    {%- for key, expr in values.items() -%}
        {%- set ns.sql = "replace(" ~ ns.sql ~ ", '{{" ~ key ~ "}}', coalesce(cast(" ~ expr ~ " as " ~ dbt.type_string() ~ "), ''))" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}


{#- A JSON object text from optional members: members is a list of (condition_sql, key, value_sql) and only
    members whose condition holds are written, in order. Built with concat/substr so it ports. -#}
{% macro json_object_when(members) -%}
    {%- set parts = [] -%}
    {%- for condition, key, value in members -%}
        {%- do parts.append("case when " ~ condition ~ " then " ~ dbt.concat(["', \"" ~ key ~ "\": '", "cast(" ~ value ~ " as " ~ dbt.type_string() ~ ")"]) ~ " else '' end") -%}
    {%- endfor -%}
    {{ dbt.concat(["'{'", "substr(" ~ dbt.concat(parts) ~ ", 3)", "'}'"]) }}
{%- endmacro %}


{#- Normalise a free-text role for the role-group lookup: lower case, spaces and hyphens as underscores. -#}
{% macro normalize_role(column) -%}
    lower(replace(replace(trim({{ column }}), ' ', '_'), '-', '_'))
{%- endmacro %}


{#- A JSON string literal member value (the caller guarantees the text needs no escaping: ids from seeds). -#}
{% macro json_quote(expr) -%}
    {{ dbt.concat(["'\"'", expr, "'\"'"]) }}
{%- endmacro %}


{#- An expression as text (for reasons and template values). -#}
{% macro as_text(expr) -%}
    cast({{ expr }} as {{ dbt.type_string() }})
{%- endmacro %}


{#- A double-precision float (dbt.type_float() is single precision on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'onboarding')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}

{#- The sync's idempotency key of a message situation: md5(trigger | user_id | discriminator). -#}
{% macro message_key(trigger, user_id, discriminator) -%}
    {{ dbt.hash(dbt.concat([trigger, "'|'", user_id, "'|'", discriminator])) }}
{%- endmacro %}


{#- The larger / smaller of two values, either of which may be null (then the other one). Written out
    because greatest() and least() treat nulls differently across databases. -#}
{% macro greatest_of(a, b) -%}
    case when {{ a }} is null or {{ b }} > {{ a }} then {{ b }} else {{ a }} end
{%- endmacro %}

{% macro least_of(a, b) -%}
    case when {{ a }} is null or {{ b }} < {{ a }} then {{ b }} else {{ a }} end
{%- endmacro %}
