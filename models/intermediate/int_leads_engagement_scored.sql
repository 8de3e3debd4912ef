-- One row per scored lead and event type worth points: decayed points, capped at the event type's cap.
with

events as (

    select * from {{ ref('int_events_scoped') }}

),

event_points as (

    select * from {{ ref('engagement_event_points') }}
    where points > 0

),

decayed as (

    select
        events.lead_id,
        events.event_type,
        events.occurred_at,
        event_points.points,
        event_points.cap_points,
        event_points.buying_stage,
        event_points.points * {{ decay_factor('events.age_days', 'event_points.half_life_days') }}
            as decayed_points
    from events
    inner join event_points on events.event_type = event_points.event_type

),

aggregated as (

    select
        lead_id,
        event_type,
        max(buying_stage) as buying_stage,
        max(cap_points) as cap_points,
        count(*) as event_count,
        max(occurred_at) as last_occurred_at,
        sum(points) as undecayed_points,
        sum(decayed_points) as decayed_points
    from decayed
    group by lead_id, event_type

),

capped as (

    select
        lead_id,
        event_type,
        buying_stage,
        event_count,
        last_occurred_at,
        cast(undecayed_points as {{ type_double() }}) as undecayed_points,
        decayed_points,
        cap_points,
        decayed_points / undecayed_points as decay_factor,
        decayed_points > cap_points as is_capped,
        case when decayed_points > cap_points then cap_points else decayed_points end as engagement_points
    from aggregated

)

select * from capped
