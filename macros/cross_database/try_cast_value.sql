{#-
    Cast text to a number type (integer or decimal(p, s)), giving null instead of an error when the text does
    not parse or does not fit. DuckDB (default) uses its try_cast. PostgreSQL and Spark accept the portable
    grammar of number_text_pattern() (optional sign, digits with an optional decimal point, optional exponent)
    and round half away from zero to the type's scale, as DuckDB does; the expression must be trimmed.
-#}
{% macro try_cast_value(expression, data_type) -%}
    {{ return(adapter.dispatch('try_cast_value', 'leadscore')(expression, data_type)) }}
{%- endmacro %}

{% macro default__try_cast_value(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{% macro postgres__try_cast_value(expression, data_type) -%}
    {%- set number = 'cast(' ~ expression ~ ' as numeric)' -%}
    case when {{ expression }} ~ '{{ number_text_pattern() }}' then {{ leadscore.cast_number_in_range(number, data_type) }} end
{%- endmacro %}

{% macro spark__try_cast_value(expression, data_type) -%}
    {#- decimal(38, 18): 20 integer digits is more than any target type holds; too large gives null. -#}
    {%- set number = 'try_cast(' ~ expression ~ ' as decimal(38, 18))' -%}
    case when {{ expression }} rlike '{{ number_text_pattern() }}' then {{ leadscore.cast_number_in_range(number, data_type) }} end
{%- endmacro %}

{#- The text of a number every engine parses the same way: 12, -1.5, .5, 12., 1e3, +2.5E-2. -#}
{% macro number_text_pattern() -%}
    ^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]{1,4})?$
{%- endmacro %}

{#- An exact number cast to integer types or decimal(p, s): rounded to the scale, null when out of range. -#}
{% macro cast_number_in_range(number, data_type) -%}
    {%- set type = data_type | lower | replace(' ', '') -%}
    {%- set integer_bounds = {
        'smallint': (-32768, 32767),
        'integer': (-2147483648, 2147483647),
        'int': (-2147483648, 2147483647),
        'bigint': (-9223372036854775808, 9223372036854775807),
    } -%}
    {%- set decimal_match = modules.re.match('^(decimal|numeric)\\((\\d+),(\\d+)\\)$', type) -%}
    {%- if type in integer_bounds -%}
        {%- set bounds = integer_bounds[type] -%}
        case when round({{ number }}, 0) between {{ bounds[0] }} and {{ bounds[1] }}
            then cast(round({{ number }}, 0) as {{ data_type }}) end
    {%- elif decimal_match -%}
        {%- set precision = decimal_match.group(2) | int -%}
        {%- set scale = decimal_match.group(3) | int -%}
        {%- set limit = '1' ~ ('0' * (precision - scale)) -%}
        case when abs(round({{ number }}, {{ scale }})) < {{ limit }}
            then cast(round({{ number }}, {{ scale }}) as {{ data_type }}) end
    {%- else -%}
        {{ exceptions.raise_compiler_error("try_cast_value supports integer and decimal(p, s) types on " ~ target.type ~ ", got: " ~ data_type) }}
    {%- endif -%}
{%- endmacro %}
