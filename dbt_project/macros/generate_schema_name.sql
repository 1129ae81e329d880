{#- Use the folder's schema as-is (staging, intermediate, marts), not "<target>_<schema>":
    analysts query marts.user_onboarding, not main_marts.user_onboarding. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
