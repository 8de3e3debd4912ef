{#- The config of every lead-level table a refresh at an unchanged as-of date patches (docs/incremental-refresh.md):
    incremental by append (a table on Spark, which rebuilds it), the changed leads' rows deleted first
    (changed_leads_deleted), its state the build id (meta.state lead_patch, read by incremental_state_is_current,
    get_where_subquery and orchestration/build/lead_patching.py). Written once, called by each such model. -#}
{% macro lead_patched_config(post_hook=none) %}
    {%- set hooks = {'pre_hook': '{{ changed_leads_deleted() }}'} %}
    {%- if post_hook %}{% do hooks.update({'post_hook': post_hook}) %}{% endif %}
    {{ config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'state': {'lead_patch': true}},
        **hooks
    ) }}
{%- endmacro %}
