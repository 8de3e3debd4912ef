{#- True when value lies in the half-open band [lower, upper); an empty bound is open. -#}
{% macro in_band(value, lower, upper) -%}
    (({{ lower }} is null or {{ value }} >= {{ lower }}) and ({{ upper }} is null or {{ value }} < {{ upper }}))
{%- endmacro %}
