-- A failure means a lead's breakdown rows do not add up exactly to its total in lead_scores (or a lead has
-- no breakdown at all): the score would not explain itself. Each row is a lead with both sums.
-- In a patching refresh only the leads it rescored (int_leads_changed) or wrote breakdown rows for are
-- checked: every other lead's breakdown rows and total are those the last published build checked (its
-- re-ranking moves ranks, not totals). Any other build checks every lead.
-- depends_on: {{ ref('int_leads_changed') }}
{%- set patching = build_parameter('patch_base_build_id') != '' %}
with

{% if patching %}
checked_leads as (

    select changed.lead_id from {{ ref('int_leads_changed') }} as changed
    union
    select rewritten.lead_id from {{ ref('lead_score_breakdown') }} as rewritten
    where rewritten.build_id = '{{ build_parameter("build_id", "adhoc") }}'

),
{% endif %}

breakdown as (

    select
        lead_id,
        sum(score_points) as breakdown_total
    from {{ ref('lead_score_breakdown') }}
    {% if patching %}
        where lead_id in (select checked_leads.lead_id from checked_leads)
    {% endif %}
    group by lead_id

),

scores as (

    select
        lead_id,
        score_total
    from {{ ref('lead_scores') }}
    {% if patching %}
        where lead_id in (select checked_leads.lead_id from checked_leads)
    {% endif %}

)

select
    scores.lead_id,
    scores.score_total,
    breakdown.breakdown_total
from scores
left join breakdown on scores.lead_id = breakdown.lead_id
where breakdown.breakdown_total is null or breakdown.breakdown_total <> scores.score_total
