{#- Cast text to a type, giving null instead of an error when the text does not parse. -#}
{% macro try_cast_value(expression, data_type) -%}
    {{ return(adapter.dispatch('try_cast_value', 'leadscore')(expression, data_type)) }}
{%- endmacro %}

{% macro default__try_cast_value(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}
