{#- True when the text parses as JSON. -#}
{% macro is_valid_json(expression) -%}
    {{ return(adapter.dispatch('is_valid_json', 'leadscore')(expression)) }}
{%- endmacro %}

{% macro default__is_valid_json(expression) -%}
    coalesce(json_valid({{ expression }}), false)
{%- endmacro %}

{#- leadscore_try_json() returns null when the text does not parse (see create_engine_functions). -#}
{% macro postgres__is_valid_json(expression) -%}
    ({{ leadscore.engine_function('leadscore_try_json') }}({{ expression }}) is not null)
{%- endmacro %}

{#- get_json_object(text, '$') is the whole document, null when the text does not parse. -#}
{% macro spark__is_valid_json(expression) -%}
    (get_json_object({{ expression }}, '$') is not null)
{%- endmacro %}
