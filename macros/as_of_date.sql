{#- The date scores are computed as of: var('as_of') (YYYY-MM-DD) or, when empty, today (UTC). -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of', '') -%}
    {%- if as_of -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of | string) -%}
            {{ exceptions.raise_compiler_error("var 'as_of' must be a date YYYY-MM-DD, got: " ~ as_of) }}
        {%- endif -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}
