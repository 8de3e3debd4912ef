{#- Extract a top-level key of a JSON text column as text; null when absent or when the text is not JSON. -#}
{% macro json_extract_text(expression, key) -%}
    {{ return(adapter.dispatch('json_extract_text', 'leadscore')(expression, key)) }}
{%- endmacro %}

{% macro default__json_extract_text(expression, key) -%}
    case when json_valid({{ expression }}) then json_extract_string({{ expression }}, '$.{{ key }}') end
{%- endmacro %}

{% macro postgres__json_extract_text(expression, key) -%}
    ({{ leadscore.engine_function('leadscore_try_json') }}({{ expression }}) ->> '{{ key }}')
{%- endmacro %}

{% macro spark__json_extract_text(expression, key) -%}
    get_json_object({{ expression }}, '$.{{ key }}')
{%- endmacro %}
