-- The accepted events of scored leads that happened before the end of the as-of date, with their age.
with

events as (

    select * from {{ ref('int_events_validated') }}
    where reject_reason is null

),

leads as (

    select lead_id from {{ ref('int_leads_scoped') }}

),

scoped as (

    select
        events.event_id,
        events.lead_id,
        events.event_type,
        events.event_subtype,
        events.occurred_at,
        {{ age_in_days('events.occurred_at', as_of_end_at()) }} as age_days
    from events
    inner join leads on events.lead_id = leads.lead_id
    where events.occurred_at < {{ as_of_end_at() }}

)

select * from scoped
