-- A failure means an accepted lead created on or before the as-of date is missing from lead_scores (or a
-- lead is there that should not be): a lead was silently dropped by the scoring joins.
select
    coalesce(scoped.lead_id, scores.lead_id) as lead_id,
    scoped.lead_id is null as is_unexpected_in_mart,
    scores.lead_id is null as is_missing_from_mart
from {{ ref('int_leads_scoped') }} as scoped
full outer join {{ ref('lead_scores') }} as scores on scoped.lead_id = scores.lead_id
where scoped.lead_id is null or scores.lead_id is null
