-- Backtest: the leads in the lowest tier on a score date that converted in the window anyway, with the
-- components of their score then and who they are, to ask why the scoring missed them.
with

observations as (

    select * from {{ ref('int_backtest_observations') }}

),

history as (

    select * from {{ ref('lead_score_history') }}

),

leads as (

    select * from {{ ref('int_leads_validated') }}
    where reject_reason is null

),

lowest_tiers as (

    select
        scoring_version,
        max(tier_order) as lowest_tier_order
    from history
    group by scoring_version

),

missed as (

    select observations.*
    from observations
    inner join lowest_tiers
        on
            observations.scoring_version = lowest_tiers.scoring_version
            and observations.tier_order = lowest_tiers.lowest_tier_order
    where observations.converted_in_window

),

final as (

    select
        missed.backtest_observation_id as backtest_low_score_conversion_id,
        missed.lead_id,
        missed.score_date,
        missed.scoring_version,
        missed.converted_at,
        cast(
            {{ dbt.datediff('missed.score_date', 'cast(missed.converted_at as date)', 'day') }} as integer  -- noqa: LT05
        ) as days_to_conversion,
        missed.score_total,
        missed.tier,
        cast(missed.score_decile as integer) as score_decile,
        missed.grade_cell,
        missed.fit_score,
        missed.engagement_score,
        missed.negative_score,
        missed.rfm_score,
        missed.industry_points,
        missed.company_size_points,
        missed.geography_points,
        missed.job_role_points,
        missed.engagement_points,
        missed.engagement_level,
        missed.buying_stage,
        leads.company_name,
        leads.industry_key,
        leads.employee_count,
        leads.country_code,
        leads.job_title,
        leads.lead_source
    from missed
    inner join leads on missed.lead_id = leads.lead_id

)

select * from final
