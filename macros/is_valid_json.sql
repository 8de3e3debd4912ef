{#- True when the text parses as JSON. -#}
{% macro is_valid_json(expression) -%}
    {{ return(adapter.dispatch('is_valid_json', 'leadscore')(expression)) }}
{%- endmacro %}

{% macro default__is_valid_json(expression) -%}
    coalesce(json_valid({{ expression }}), false)
{%- endmacro %}
