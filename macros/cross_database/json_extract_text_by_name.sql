{#-
    The text of the top-level key of a JSON text column whose name is the value of another SQL expression (a
    column of a point table), not a literal: null when the key is absent, its value is null, or the text is not
    JSON. Numbers and booleans come back as their JSON text (42, true). A key name must not contain a quote or
    a question mark (engagement_event_points tests that).
-#}
{% macro json_extract_text_by_name(expression, name_expression) -%}
    {{ return(adapter.dispatch('json_extract_text_by_name', 'leadscore')(expression, name_expression)) }}
{%- endmacro %}

{% macro default__json_extract_text_by_name(expression, name_expression) -%}
    case
        when json_valid({{ expression }})
            then json_extract_string({{ expression }}, '$."' || {{ name_expression }} || '"')
    end
{%- endmacro %}

{% macro postgres__json_extract_text_by_name(expression, name_expression) -%}
    ({{ leadscore.engine_function('leadscore_try_json') }}({{ expression }}) ->> {{ name_expression }})
{%- endmacro %}

{% macro spark__json_extract_text_by_name(expression, name_expression) -%}
    get_json_object({{ expression }}, concat('$[\'', {{ name_expression }}, '\']'))
{%- endmacro %}
