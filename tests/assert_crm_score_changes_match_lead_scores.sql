-- A failure means the CRM would be told something other than what lead_scores says: a scored lead missing
-- from crm_score_changes (or one there that is not scored), or a CRM field there that differs from the lead's
-- current score, tier, grade cell, MQL flag or suggested stage (a change the log did not record, which
-- `leadscore export --since-last` would then never send).
select
    coalesce(scores.lead_id, crm.lead_id) as lead_id,
    scores.lead_id is null as is_unexpected_in_crm_changes,
    crm.lead_id is null as is_missing_from_crm_changes
from {{ ref('lead_scores') }} as scores
full outer join {{ ref('crm_score_changes') }} as crm on scores.lead_id = crm.lead_id
where
    scores.lead_id is null
    or crm.lead_id is null
    or cast(scores.score_total as decimal(18, 2)) <> crm.score
    or scores.tier <> crm.tier
    or scores.grade_cell <> crm.grade_cell
    or scores.is_mql <> crm.is_mql
    or scores.suggested_lifecycle_stage <> crm.suggested_lifecycle_stage
