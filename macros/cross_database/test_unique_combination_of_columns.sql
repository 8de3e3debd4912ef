{#-
    The unique_combination_of_columns test (tests/generic/), per engine. One row per repeated combination of
    the columns, with its occurrences.
    Any engine (default): group the columns.
    DuckDB: first group one 64-bit hash of the combination, not the columns themselves, then group the columns
    only of rows whose hash repeats: a real duplicate, or a rare hash collision, which the second grouping tells
    apart. Grouping the text columns of the 92 M-row breakdown view at 10 M leads ran out of the profile's 5GB;
    a hash table of 64-bit keys is several times smaller.
-#}
{% macro default__test_unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endmacro %}

{% macro duckdb__test_unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns = combination_of_columns | join(', ') %}

with

repeated_hashes as (

    select hash({{ columns }}) as combination_hash
    from {{ model }}
    group by hash({{ columns }})
    having count(*) > 1

)

select
    {{ columns }},
    count(*) as occurrences
from {{ model }}
where hash({{ columns }}) in (select repeated_hashes.combination_hash from repeated_hashes)
group by {{ columns }}
having count(*) > 1

{% endmacro %}
