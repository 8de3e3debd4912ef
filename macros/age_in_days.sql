{#- Fractional days from a timestamp to a later one (seconds / 86400), portable across engines. -#}
{% macro age_in_days(from_timestamp, to_timestamp) -%}
    ({{ dbt.datediff(from_timestamp, to_timestamp, 'second') }} / 86400.0)
{%- endmacro %}
