{#-
    Post-hook of a lead-level table: after a patching refresh, every row carries this build's build_id (the
    rows of unchanged leads are this build's result too), which is what the next build's lead_patch_is_current
    checks. Renders nothing after a full rebuild, which wrote the build_id already.
-#}
{% macro patched_rows_stamped() -%}
    {%- if is_incremental() -%}
        {%- set build_id = build_parameter('build_id', 'adhoc') -%}
        update {{ this }} set build_id = '{{ build_id }}' where build_id <> '{{ build_id }}'
    {%- endif -%}
{%- endmacro %}
