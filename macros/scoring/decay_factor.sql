{#- Exponential decay: 0.5 ** (age_days / half_life_days); an event half_life_days old counts half. -#}
{% macro decay_factor(age_days, half_life_days) -%}
    power(0.5, ({{ age_days }}) / ({{ half_life_days }}))
{%- endmacro %}
