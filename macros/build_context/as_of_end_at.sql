{#- The first instant after the as-of date (midnight UTC of the next day): events strictly before it count. -#}
{% macro as_of_end_at() -%}
    cast({{ dbt.dateadd('day', 1, as_of_date()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
