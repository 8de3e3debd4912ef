-- A failure means a lead's breakdown rows do not add up exactly to its total in lead_scores (or a lead has
-- no breakdown at all): the score would not explain itself. Each row is a lead with both sums.
with

breakdown as (

    select
        lead_id,
        sum(score_points) as breakdown_total
    from {{ ref('lead_score_breakdown') }}
    group by lead_id

)

select
    scores.lead_id,
    scores.score_total,
    breakdown.breakdown_total
from {{ ref('lead_scores') }} as scores
left join breakdown on scores.lead_id = breakdown.lead_id
where breakdown.breakdown_total is null or breakdown.breakdown_total <> scores.score_total
