{#-
    The values of a text column joined with a delimiter, in ascending order. dbt.listagg does that on DuckDB
    and PostgreSQL; on Spark it ignores the order (collect_list keeps whatever order the shuffle gives), so
    Spark sorts the collected array first.
-#}
{% macro sorted_listagg(measure, delimiter_text) -%}
    {{ return(adapter.dispatch('sorted_listagg', 'leadscore')(measure, delimiter_text)) }}
{%- endmacro %}

{% macro default__sorted_listagg(measure, delimiter_text) -%}
    {{ dbt.listagg(measure, delimiter_text, 'order by ' ~ measure) }}
{%- endmacro %}

{% macro spark__sorted_listagg(measure, delimiter_text) -%}
    array_join(array_sort(collect_list({{ measure }})), {{ delimiter_text }})
{%- endmacro %}
