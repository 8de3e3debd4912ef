{#- When this dbt invocation started (UTC), as a timestamp literal: the batch stamp of incremental rows. -#}
{% macro run_started_at_timestamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
