{#- Parse ISO 8601 text to a UTC timestamp without time zone; text without an offset is UTC; null if unparseable. -#}
{% macro parse_iso_timestamp(expression) -%}
    {{ return(adapter.dispatch('parse_iso_timestamp', 'leadscore')(expression)) }}
{%- endmacro %}

{% macro default__parse_iso_timestamp(expression) -%}
    cast(try_cast({{ expression }} as timestamptz) as timestamp)
{%- endmacro %}
