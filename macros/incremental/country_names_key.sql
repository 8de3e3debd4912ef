{#-
    A scalar subquery: the fingerprint of seed country_names, which decides which lead countries are accepted.
    int_leads_validated stores it with every row and is rebuilt when it changes.
-#}
{% macro country_names_key() -%}
    {{ seed_state_key(ref('country_names'), ['country_name', 'country_code']) }}
{%- endmacro %}
