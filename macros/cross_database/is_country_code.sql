{#- True when the text is two upper-case ASCII letters, the form of an ISO 3166-1 alpha-2 code. -#}
{% macro is_country_code(expression) -%}
    {{ return(adapter.dispatch('is_country_code', 'leadscore')(expression)) }}
{%- endmacro %}

{% macro default__is_country_code(expression) -%}
    coalesce(regexp_full_match({{ expression }}, '[A-Z]{2}'), false)
{%- endmacro %}

{% macro postgres__is_country_code(expression) -%}
    coalesce({{ expression }} ~ '^[A-Z]{2}$', false)
{%- endmacro %}

{% macro spark__is_country_code(expression) -%}
    coalesce({{ expression }} rlike '^[A-Z]{2}$', false)
{%- endmacro %}
