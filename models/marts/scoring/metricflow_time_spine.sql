-- MetricFlow's time spine (the semantic layer's metrics join time to it): one row per day from 2015 through
-- 2039, wider than any as-of or backtest score date. Built with dbt's own cross-database date_spine macro
-- (dbt_utils is not installed: `dbt deps` cannot reach the package hub).
with

days as (

    {{ dbt.date_spine('day', "cast('2015-01-01' as date)", "cast('2040-01-01' as date)") }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
