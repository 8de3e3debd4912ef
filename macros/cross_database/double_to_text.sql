{#-
    round(expression, decimals) as text, written the way DuckDB writes a double: shortest digits with at least
    one decimal ('102.0', '0.4', '2.25'). DuckDB (default) casts the rounded double; PostgreSQL and Spark round
    through a decimal and trim its trailing zeros, so the same double reads the same on every engine (for
    values below 1e15, which DuckDB would write in exponent notation).
-#}
{% macro double_to_text(expression, decimals) -%}
    {{ return(adapter.dispatch('double_to_text', 'leadscore')(expression, decimals)) }}
{%- endmacro %}

{% macro default__double_to_text(expression, decimals) -%}
    cast(round({{ expression }}, {{ decimals }}) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__double_to_text(expression, decimals) -%}
    {{ leadscore.decimal_text_as_double_text('cast(cast(' ~ expression ~ ' as decimal(38, ' ~ decimals ~ ')) as text)', decimals) }}
{%- endmacro %}

{% macro spark__double_to_text(expression, decimals) -%}
    {{ leadscore.decimal_text_as_double_text('cast(cast(' ~ expression ~ ' as decimal(38, ' ~ decimals ~ ')) as string)', decimals) }}
{%- endmacro %}

{#- '12.30' -> '12.3', '12.00' -> '12.0', '12' (no decimals) -> '12.0'. -#}
{% macro decimal_text_as_double_text(text, decimals) -%}
    {%- if decimals | int == 0 -%}
        ({{ text }} || '.0')
    {%- else -%}
        regexp_replace(regexp_replace({{ text }}, '0+$', ''), '[.]$', '.0')
    {%- endif -%}
{%- endmacro %}
