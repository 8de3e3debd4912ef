{#-
    A scalar subquery: the fingerprint of the point-table rows the validation of events depends on. An event
    of a type engagement_event_points does not list is rejected; an event of a lead that country_names
    (through int_leads_validated) rejects is rejected. int_events_validated stores it with each batch and is
    rebuilt when it changes.
-#}
{% macro events_validation_key() -%}
    (select md5({{ seed_state_key(ref('engagement_event_points'), ['event_type'], distinct_rows=true) }} || {{ country_names_key() }}))
{%- endmacro %}
