{#-
    Bands [lower, upper) must tile the number line without overlap or gap, within each partition:
    sorted by lower bound, each band's upper bound equals the next band's lower bound; only the first band
    may have an open (empty) lower bound and only the last an open upper bound; lower < upper.
    Fails with one row per offending band, naming its key and the problem.
-#}
{% test contiguous_bands(model, key_column, lower_column, upper_column, partition_by=none) %}

{%- set partition = 'partition by ' ~ partition_by if partition_by else '' %}

with ordered as (

    select
        {{ key_column }} as band_key,
        {{ "cast(" ~ partition_by ~ " as " ~ dbt.type_string() ~ ")" if partition_by else "''" }} as band_partition,
        {{ lower_column }} as lower_bound,
        {{ upper_column }} as upper_bound,
        lead({{ lower_column }}) over ({{ partition }} order by {{ lower_column }} nulls first) as next_lower_bound,
        lead({{ key_column }}) over ({{ partition }} order by {{ lower_column }} nulls first) as next_band_key,
        row_number() over ({{ partition }} order by {{ lower_column }} nulls first) as band_position,
        count(*) over ({{ partition }}) as band_count
    from {{ model }}

),

problems as (

    select
        band_partition,
        band_key,
        next_band_key,
        case
            when lower_bound is not null and upper_bound is not null and lower_bound >= upper_bound
                then 'lower bound is not below upper bound'
            when lower_bound is null and band_position > 1
                then 'open lower bound on a band that is not the first'
            when upper_bound is null and band_position < band_count
                then 'open upper bound on a band that is not the last (bands overlap)'
            when upper_bound is not null and band_position = band_count
                then 'last band has a closed upper bound: values above it match no band'
            when next_lower_bound > upper_bound
                then 'gap between this band and the next'
            when next_lower_bound < upper_bound
                then 'this band overlaps the next'
        end as problem
    from ordered

)

select * from problems
where problem is not null

{% endtest %}
