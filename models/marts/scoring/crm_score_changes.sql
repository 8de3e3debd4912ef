-- What a CRM import or a reverse-ETL tool reads: one row per scored lead with the CRM fields as last changed
-- (history.crm_score_change_log) and the change_batch they changed in. Rows with change_batch above the
-- batch a sync last read are the leads to send (`leadscore export --since-last`); every row is a full sync.
-- The email comes from lead_scores: null unless var expose_personal_data is on.
with

log as (

    select
        *,
        row_number() over (partition by lead_id order by change_batch desc) as recency
    from {{ ref('crm_score_change_log') }}

),

latest as (

    select * from log
    where recency = 1

),

scores as (

    select
        lead_id,
        email
    from {{ ref('lead_scores') }}

),

final as (

    select
        latest.lead_id,
        scores.email,
        latest.score,
        latest.tier,
        latest.grade_cell,
        latest.is_mql,
        latest.suggested_lifecycle_stage,
        latest.top_reasons,
        latest.as_of_date,
        latest.change_batch,
        latest.change_type,
        latest.changed_fields,
        latest.logged_at as changed_at,
        latest.build_id,
        latest.scoring_version
    from latest
    inner join scores on latest.lead_id = scores.lead_id

)

select * from final
