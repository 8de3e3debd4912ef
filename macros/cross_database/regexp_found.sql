{#-
    True when the regular expression `pattern` (an SQL expression) is found anywhere in `value`, ignoring case.
    The common syntax of RE2 (DuckDB), PostgreSQL's ARE and Java (Spark) is what rules should use; seed_check.py
    refuses a pattern DuckDB or Python cannot compile, naming the seed row.
-#}
{% macro regexp_found(value, pattern) -%}
    {{ return(adapter.dispatch('regexp_found', 'leadscore')(value, pattern)) }}
{%- endmacro %}

{% macro default__regexp_found(value, pattern) -%}
    regexp_matches({{ value }}, {{ pattern }}, 'i')
{%- endmacro %}

{% macro postgres__regexp_found(value, pattern) -%}
    ({{ value }} ~* {{ pattern }})
{%- endmacro %}

{% macro spark__regexp_found(value, pattern) -%}
    ({{ value }} rlike concat('(?i)', {{ pattern }}))
{%- endmacro %}
