{#-
    A lead-level table may be patched (only the leads in int_leads_changed rescored) when `leadscore build`
    asked for it (build parameter patch_base_build_id: the last published build had the same as-of date,
    point tables and code, and no raw row it read has gone since) and no row of the table comes from a build
    after that one. Each row keeps the build that computed it (a patch rewrites the changed leads' rows only);
    build ids sort by time. A build that is not published never leaves its rows behind (the next build starts
    from the published file, see orchestration/publishing.py); this check is the second guard. Anything else (a
    manual dbt run, Dagster, a table without build_id) rebuilds the table in full.
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
        select coalesce(max(build_id) <= '{{ base }}', true) as is_current from {{ this }}
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}
