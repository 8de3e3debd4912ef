-- Every raw event row with the first contract rule it breaks (reject_reason), or null when it is accepted.
with

events as (

    select * from {{ ref('stg_raw__events') }}

),

accepted_leads as (

    select lead_id from {{ ref('int_leads_validated') }}
    where reject_reason is null

),

event_points as (

    select event_type from {{ ref('engagement_event_points') }}

),

numbered as (

    select
        events.*,
        accepted_leads.lead_id is not null as has_known_lead,
        event_points.event_type is not null as has_known_event_type,
        row_number() over (
            partition by events.event_id order by events.source_file, events.source_line
        ) as event_id_occurrence
    from events
    left join accepted_leads on events.lead_id = accepted_leads.lead_id
    left join event_points on events.event_type = event_points.event_type

),

validated as (

    select
        *,
        case
            when event_id is null then 'missing_event_id'
            when event_id_occurrence > 1 then 'duplicate_event_id'
            when lead_id is null then 'missing_lead_id'
            when not has_known_lead then 'unknown_or_rejected_lead'
            when event_type is null then 'missing_event_type'
            when not has_known_event_type then 'unknown_event_type'
            when occurred_at is null and has_unparseable_occurred_at then 'unparseable_occurred_at'
            when occurred_at is null then 'missing_occurred_at'
            when occurred_at > loaded_at then 'occurred_at_after_load'
            when has_unparseable_properties then 'unparseable_properties'
        end as reject_reason
    from numbered

)

select * from validated
