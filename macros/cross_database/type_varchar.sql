{#- The engine's type of a contract's `data_type: varchar` column (dbt.type_string() is text on PostgreSQL). -#}
{% macro type_varchar() -%}
    {{ return(adapter.dispatch('type_varchar', 'leadscore')()) }}
{%- endmacro %}

{% macro default__type_varchar() -%}
    varchar
{%- endmacro %}

{% macro spark__type_varchar() -%}
    string
{%- endmacro %}
