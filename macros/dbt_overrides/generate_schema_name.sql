{#- Use the configured schema name as is (staging, intermediate, marts, point_tables), not target_custom; a
    schema listed in var staged_schemas gets var staged_schema_suffix (write-audit-publish on PostgreSQL). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim in var('staged_schemas', []) -%}
        {{ custom_schema_name | trim }}{{ var('staged_schema_suffix', '') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
