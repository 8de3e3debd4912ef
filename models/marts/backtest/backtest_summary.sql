-- Backtest effectiveness of each scoring version, pooled over its score dates: base conversion rate,
-- ROC AUC of the total score (rank-based Mann-Whitney, ties counted half), and how much of the conversions
-- the top tier, the top score decile and the MQLs captured.
with

observations as (

    select * from {{ ref('int_backtest_observations') }}

),

ranked as (

    select
        scoring_version,
        converted_in_window,
        rank() over (partition by scoring_version order by score_total) as low_rank,
        count(*) over (partition by scoring_version, score_total) as tie_count
    from observations

),

rank_sums as (

    select
        scoring_version,
        sum(case when converted_in_window then 1 else 0 end) as positives,
        sum(case when converted_in_window then 0 else 1 end) as negatives,
        -- the average rank of a tie group is its lowest rank + (size - 1) / 2
        sum(
            case when converted_in_window then low_rank + (tie_count - 1) / 2.0 else 0 end
        ) as positive_rank_sum
    from ranked
    group by scoring_version

),

totals as (

    select
        scoring_version,
        count(*) as observations,
        count(distinct lead_id) as leads,
        count(distinct score_date) as score_dates,
        min(score_date) as first_score_date,
        max(score_date) as last_score_date,
        sum(case when converted_in_window then 1 else 0 end) as conversions,
        sum(case when tier_order = 1 then 1 else 0 end) as top_tier_observations,
        sum(case when tier_order = 1 and converted_in_window then 1 else 0 end) as top_tier_conversions,
        sum(case when score_decile = 1 then 1 else 0 end) as top_decile_observations,
        sum(case when score_decile = 1 and converted_in_window then 1 else 0 end) as top_decile_conversions,
        sum(case when is_mql then 1 else 0 end) as mql_observations,
        sum(case when is_mql and converted_in_window then 1 else 0 end) as mql_conversions
    from observations
    group by scoring_version

),

top_tiers as (

    select distinct
        scoring_version,
        tier as top_tier
    from observations
    where tier_order = 1

),

final as (

    select
        totals.scoring_version,
        cast(totals.observations as {{ dbt.type_bigint() }}) as observations,
        cast(totals.leads as {{ dbt.type_bigint() }}) as leads,
        cast(totals.score_dates as integer) as score_dates,
        totals.first_score_date,
        totals.last_score_date,
        cast({{ var('backtest_window_days') | int }} as integer) as window_days,
        {{ as_of_date() }} as observed_until,
        cast(totals.conversions as {{ dbt.type_bigint() }}) as conversions,
        cast(totals.conversions as {{ type_double() }}) / totals.observations as base_rate,
        case
            when rank_sums.positives > 0 and rank_sums.negatives > 0
                then
                    (
                        rank_sums.positive_rank_sum
                        - cast(rank_sums.positives as {{ type_double() }}) * (rank_sums.positives + 1) / 2.0
                    )
                    / (cast(rank_sums.positives as {{ type_double() }}) * rank_sums.negatives)
        end as roc_auc,
        top_tiers.top_tier,
        cast(totals.top_tier_observations as {{ type_double() }}) / totals.observations
            as top_tier_share_of_leads,
        case
            when totals.conversions > 0
                then cast(totals.top_tier_conversions as {{ type_double() }}) / totals.conversions
        end as top_tier_capture_rate,
        case
            when totals.top_tier_observations > 0 and totals.conversions > 0
                then
                    (cast(totals.top_tier_conversions as {{ type_double() }}) / totals.top_tier_observations)
                    / (cast(totals.conversions as {{ type_double() }}) / totals.observations)
        end as top_tier_lift,
        case
            when totals.conversions > 0
                then cast(totals.top_decile_conversions as {{ type_double() }}) / totals.conversions
        end as top_decile_capture_rate,
        case
            when totals.top_decile_observations > 0 and totals.conversions > 0
                then
                    (cast(totals.top_decile_conversions as {{ type_double() }}) / totals.top_decile_observations)
                    / (cast(totals.conversions as {{ type_double() }}) / totals.observations)
        end as top_decile_lift,
        cast(totals.mql_observations as {{ type_double() }}) / totals.observations as mql_share_of_leads,
        case
            when totals.conversions > 0
                then cast(totals.mql_conversions as {{ type_double() }}) / totals.conversions
        end as mql_capture_rate
    from totals
    inner join rank_sums on totals.scoring_version = rank_sums.scoring_version
    left join top_tiers on totals.scoring_version = top_tiers.scoring_version

)

select * from final
