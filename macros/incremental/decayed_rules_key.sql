{#-
    The fingerprint (seed_state_key) of what int_lead_event_types_decayed's sums depend on: the columns of
    engagement_event_points that decide which rule takes an event and what it is worth. cap_points, buying_stage
    and description are applied after the sums (int_leads_engagement_scored): changing them rebuilds nothing.
-#}
{% macro decayed_rules_key() -%}
    {{ seed_state_key(
        ref('engagement_event_points'),
        ['event_rule', 'event_type', 'property_name', 'match_values', 'match_priority', 'points', 'half_life_days']
    ) }}
{%- endmacro %}
