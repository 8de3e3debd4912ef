{#-
    A scalar subquery: the md5 of the given columns of a point table, rows in order. An incremental model stores
    the fingerprint of the seed rows its state was made with, and is rebuilt when they change.
    Arguments: seed_relation (a ref), columns (list of column names).
-#}
{% macro seed_state_key(seed_relation, columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    (select md5({{ sorted_listagg(parts | join(" || ':' || "), "'|'") }}) as state_key from {{ seed_relation }})
{%- endmacro %}
