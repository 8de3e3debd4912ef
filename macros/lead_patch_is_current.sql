{#-
    A lead-level table may be patched (only the leads in int_leads_changed rescored) when `leadscore build`
    asked for it (build parameter patch_base_build_id: the last published build had the same as-of date,
    point tables and code, and no raw row it read has gone since) and every row of the table was written by
    that build. Anything else (a manual dbt run, Dagster, a table from another build, a table without
    build_id) rebuilds the table in full.
-#}
{% macro lead_patch_is_current() %}
    {% set base = build_parameter('patch_base_build_id') %}
    {% if base == '' %}
        {{ return(false) }}
    {% endif %}
    {% set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
    {% if 'build_id' not in columns %}
        {{ return(false) }}
    {% endif %}
    {% set sql %}
        select
            count(*) > 0 and min(build_id) = '{{ base }}' and max(build_id) = '{{ base }}' as is_current
        from {{ this }}
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}
