-- One row per scored lead: total engagement points, engagement level and grade, buying stage, last activity.
-- Patched at an unchanged as-of date: only the leads of int_leads_changed are rescored (their rows deleted,
-- then appended); any other build rebuilds it in full (see incremental_state_is_current).
{{ lead_patched_config() }}
-- depends_on: {{ ref('int_leads_changed') }}
with

leads as (

    select lead_id from {{ ref('int_leads_scoped') }}
    where {{ changed_leads_filter('lead_id') }}

),

engagement as (

    select * from {{ ref('int_leads_engagement_scored') }}
    where {{ changed_leads_filter('lead_id') }}

),

decayed as (

    select * from {{ ref('int_lead_event_types_decayed') }}
    where {{ changed_leads_filter('lead_id') }}

),

levels as (

    select * from {{ ref('engagement_levels') }}

),

grade_bands as (

    select * from {{ ref('engagement_grade_bands') }}

),

stages as (

    select * from {{ ref('buying_stages') }}

),

settings as (

    select setting_value as stage_min_points from {{ ref('score_settings') }}
    where setting_key = 'stage_min_points'

),

per_lead as (

    select
        lead_id,
        sum(engagement_points) as engagement_points
    from engagement
    group by lead_id

),

staged as (

    select
        engagement.lead_id,
        stages.stage_key,
        row_number() over (
            partition by engagement.lead_id order by stages.stage_order desc
        ) as stage_rank
    from engagement
    inner join stages on engagement.buying_stage = stages.stage_key
    cross join settings
    where engagement.engagement_points >= settings.stage_min_points

),

last_activity as (

    select
        lead_id,
        max(last_occurred_at) as last_activity_at
    from decayed
    group by lead_id

),

totals as (

    select
        leads.lead_id,
        last_activity.last_activity_at,
        coalesce(per_lead.engagement_points, 0) as engagement_points,
        coalesce(staged.stage_key, 'none') as buying_stage
    from leads
    left join per_lead on leads.lead_id = per_lead.lead_id
    left join staged on leads.lead_id = staged.lead_id and staged.stage_rank = 1
    left join last_activity on leads.lead_id = last_activity.lead_id

),

levelled as (

    select
        totals.*,
        levels.level_key as engagement_level,
        levels.points as engagement_level_points,
        grade_bands.engagement_grade,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id
    from totals
    left join levels
        on {{ in_band('totals.engagement_points', 'levels.min_engagement_points', 'levels.max_engagement_points') }}
    left join grade_bands
        on {{ in_band(
            'totals.engagement_points',
            'grade_bands.min_engagement_points',
            'grade_bands.max_engagement_points'
        ) }}

)

select * from levelled
