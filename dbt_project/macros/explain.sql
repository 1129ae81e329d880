{#- A duration in seconds as a short text for people, one unit everywhere they read one (the explain
    timeline, message reasons): '12 min', '3.5 h', '2.1 d', 'none'. -#}
{% macro explain_duration(seconds) -%}
    case
        when {{ seconds }} is null then 'none'
        when {{ seconds }} < 3600 then {{ as_text('cast(round(' ~ seconds ~ ' / 60.0) as ' ~ dbt.type_int() ~ ')') }} || ' min'
        when {{ seconds }} < 86400 then {{ as_text('round(' ~ seconds ~ ' / 3600.0, 1)') }} || ' h'
        else {{ as_text('round(' ~ seconds ~ ' / 86400.0, 1)') }} || ' d'
    end
{%- endmacro %}
