{#-
    True when casting the text to data_type (an integer or decimal(p, s) type) would round it: 12.7 to the
    integer 13, 10.005 to the decimal(18, 2) 10.01. The text is compared with its value at 12 decimals, so
    what a double written as text carries past that (10.049999999999999) counts as the number it stands for.
    False when the text is empty or does not parse (that is flagged as unparseable).
-#}
{% macro is_rounded_by_cast(expression, data_type) -%}
    coalesce({{ leadscore.try_cast_value(expression, 'decimal(38, 12)') }} <> {{ leadscore.try_cast_value(expression, data_type) }}, false)
{%- endmacro %}
