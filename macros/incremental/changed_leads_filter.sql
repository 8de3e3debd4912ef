{#-
    A predicate on a lead id column: in a patching refresh (is_incremental() of a lead-level table, see
    incremental_state_is_current), true for the leads in int_leads_changed only; otherwise true. A model that
    uses it declares `-- depends_on: {{ ref('int_leads_changed') }}` (the ref is only rendered in a patching refresh).
    Arguments: column (the lead id expression to test).
-#}
{% macro changed_leads_filter(column) -%}
    {%- if is_incremental() -%}
        {{ column }} in (select changed.lead_id from {{ ref('int_leads_changed') }} as changed)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
