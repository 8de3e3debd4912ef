{#- The date scores are computed as of: build_parameter('as_of') (YYYY-MM-DD) or, when empty, today (UTC). -#}
{% macro as_of_date() -%}
    {%- set as_of = build_parameter('as_of') -%}
    {%- if as_of -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of | string) -%}
            {{ exceptions.raise_compiler_error("var 'as_of' must be a date YYYY-MM-DD, got: " ~ as_of) }}
        {%- endif -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        {{ current_utc_date() }}
    {%- endif -%}
{%- endmacro %}

{#- Today in UTC. DuckDB's current_date follows the TimeZone setting, UTC in profiles.yml. -#}
{% macro current_utc_date() -%}
    {{ return(adapter.dispatch('current_utc_date', 'leadscore')()) }}
{%- endmacro %}

{% macro default__current_utc_date() -%}
    current_date
{%- endmacro %}

{% macro postgres__current_utc_date() -%}
    cast(timezone('UTC', now()) as date)
{%- endmacro %}

{% macro spark__current_utc_date() -%}
    to_date(to_utc_timestamp(current_timestamp(), current_timezone()))
{%- endmacro %}
