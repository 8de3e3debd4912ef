{#-
    Fractional days from a timestamp to a later one (seconds / 86400), portable across engines: the whole
    seconds are cast to a double first, so the division is a float division everywhere (Spark would divide a
    bigint by a decimal literal as decimals, with another rounding).
-#}
{% macro age_in_days(from_timestamp, to_timestamp) -%}
    (cast({{ dbt.datediff(from_timestamp, to_timestamp, 'second') }} as {{ type_double() }}) / 86400)
{%- endmacro %}
