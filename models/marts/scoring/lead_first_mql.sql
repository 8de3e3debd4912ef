-- When each lead first became a marketing-qualified lead under each scoring version, from the score
-- history, and what its score and components were then. The date is as precise as the history's dates:
-- the lead crossed the MQL threshold after last_non_mql_date and on or before first_mql_date.
with

history as (

    select * from {{ ref('lead_score_history') }}

),

mql_days as (

    select
        *,
        row_number() over (partition by lead_id, scoring_version order by score_date) as mql_day_number
    from history
    where is_mql

),

firsts as (

    select
        *,
        lead_id || ':' || scoring_version as lead_first_mql_id
    from mql_days
    where mql_day_number = 1

),

before_first as (

    select
        history.lead_id,
        history.scoring_version,
        max(history.score_date) as last_non_mql_date
    from history
    inner join firsts
        on
            history.lead_id = firsts.lead_id
            and history.scoring_version = firsts.scoring_version
            and history.score_date < firsts.score_date
    group by history.lead_id, history.scoring_version

),

final as (

    select
        firsts.lead_first_mql_id,
        firsts.lead_id,
        firsts.scoring_version,
        firsts.score_date as first_mql_date,
        before_first.last_non_mql_date,
        firsts.score_total,
        firsts.fit_score,
        firsts.engagement_score,
        firsts.negative_score,
        firsts.rfm_score,
        firsts.industry_points,
        firsts.company_size_points,
        firsts.geography_points,
        firsts.job_role_points,
        firsts.engagement_points,
        firsts.engagement_level,
        firsts.tier,
        firsts.grade_cell,
        firsts.buying_stage,
        firsts.is_customer,
        firsts.build_id
    from firsts
    left join before_first
        on
            firsts.lead_id = before_first.lead_id
            and firsts.scoring_version = before_first.scoring_version

)

select * from final
