{#- The vars the Python steps need, one row per var with its value as JSON text, so a var changed in
    dbt_project.yml (or passed with --vars) reaches every consumer from the warehouse
    (dagster_project/core/parameters.py reads this model); no Python module keeps a copy. Built in the
    step before the AI assets. Add a var here when a Python step starts to need one. -#}

{%- set python_vars = [
    'product_name',
    'playbook_day',
    'query_events',
    'import_events',
    'invite_event',
    'integration_event',
    'feature_event',
    'analysis_event',
] -%}

with

parameters as (

    {% for name in python_vars %}
        select
            {{ "'" ~ name ~ "'" }} as parameter,
            {{ "'" ~ (tojson(var(name)) | replace("'", "''")) ~ "'" }} as value  -- noqa: RF04
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        cast(parameter as {{ dbt.type_string() }}) as parameter,
        cast(value as {{ dbt.type_string() }}) as value  -- noqa: RF04

    from parameters

)

select * from final
