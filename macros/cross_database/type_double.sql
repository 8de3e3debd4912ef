{#- The engine's double-precision float type (dbt.type_float() is single precision on some engines). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'leadscore')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
