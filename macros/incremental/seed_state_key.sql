{#-
    A scalar subquery: the md5 of the given columns of a point table, rows in order. An incremental model stores
    the fingerprint of the seed rows its state was made with, and is rebuilt when they change.
    Arguments: seed_relation (a ref), columns (list of column names), distinct_rows (fingerprint each distinct
    combination of the columns once: a state that depends on the set of values only, such as the event types of
    engagement_event_points, is then not rebuilt when a row repeats a value).
-#}
{% macro seed_state_key(seed_relation, columns, distinct_rows=false) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    {%- if distinct_rows -%}
        (
            select md5({{ sorted_listagg(parts | join(" || ':' || "), "'|'") }}) as state_key
            from (select distinct {{ columns | join(', ') }} from {{ seed_relation }}) as seed_rows
        )
    {%- else -%}
        (select md5({{ sorted_listagg(parts | join(" || ':' || "), "'|'") }}) as state_key from {{ seed_relation }})
    {%- endif -%}
{%- endmacro %}
