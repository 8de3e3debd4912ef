-- Backtest: conversion in the window after each score date by tier, by score decile and by grade cell,
-- pooled over the score dates of each scoring version, with the lift over the base rate.
with

observations as (

    select * from {{ ref('int_backtest_observations') }}

),

totals as (

    select
        scoring_version,
        count(*) as observations,
        sum(case when converted_in_window then 1 else 0 end) as conversions,
        count(distinct score_date) as score_dates
    from observations
    group by scoring_version

),

by_tier as (

    select
        scoring_version,
        'tier' as segment_type,
        tier as segment_key,
        min(tier_order) as segment_order,
        count(*) as observations,
        sum(case when converted_in_window then 1 else 0 end) as conversions
    from observations
    group by scoring_version, tier

),

by_decile as (

    select
        scoring_version,
        'score_decile' as segment_type,
        cast(score_decile as {{ dbt.type_string() }}) as segment_key,
        score_decile as segment_order,
        count(*) as observations,
        sum(case when converted_in_window then 1 else 0 end) as conversions
    from observations
    group by scoring_version, score_decile

),

by_grade_cell as (

    select
        scoring_version,
        'grade_cell' as segment_type,
        grade_cell as segment_key,
        cast(null as integer) as segment_order,
        count(*) as observations,
        sum(case when converted_in_window then 1 else 0 end) as conversions
    from observations
    group by scoring_version, grade_cell

),

segments as (

    select * from by_tier
    union all
    select * from by_decile
    union all
    select * from by_grade_cell

),

final as (

    select
        segments.scoring_version || ':' || segments.segment_type || ':' || segments.segment_key
            as backtest_conversion_rate_id,
        segments.scoring_version,
        segments.segment_type,
        segments.segment_key,
        cast(coalesce(
            segments.segment_order,
            dense_rank() over (
                partition by segments.scoring_version, segments.segment_type order by segments.segment_key
            )
        ) as integer) as segment_order,
        cast(segments.observations as {{ dbt.type_bigint() }}) as observations,
        cast(segments.conversions as {{ dbt.type_bigint() }}) as conversions,
        cast(segments.conversions as {{ type_double() }}) / segments.observations as conversion_rate,
        cast(totals.conversions as {{ type_double() }}) / totals.observations as base_rate,
        case
            when totals.conversions > 0
                then
                    (cast(segments.conversions as {{ type_double() }}) / segments.observations)
                    / (cast(totals.conversions as {{ type_double() }}) / totals.observations)
        end as lift,
        cast(segments.observations as {{ type_double() }}) / totals.observations as share_of_observations,
        case
            when totals.conversions > 0
                then cast(segments.conversions as {{ type_double() }}) / totals.conversions
        end as share_of_conversions,
        cast(totals.score_dates as integer) as score_dates,
        cast({{ var('backtest_window_days') | int }} as integer) as window_days
    from segments
    inner join totals on segments.scoring_version = totals.scoring_version

)

select * from final
