{#-
    Pre-hook of a lead-level table: in a patching refresh, delete the rows of the leads about to be rescored
    (every row of theirs, including rules that no longer fire), so that the append that follows leaves exactly
    one current set of rows per lead. Renders nothing otherwise (the table is then rebuilt in full).
-#}
{% macro changed_leads_deleted() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ changed_leads_filter('lead_id') }}
    {%- endif -%}
{%- endmacro %}
