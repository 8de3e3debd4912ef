-- One row per lead and event type with accepted events before the end of the as-of date: how many, the last
-- one, and their points summed without decay and with exponential decay as of that date (every event type,
-- including those worth 0 points, so that the last activity of a lead comes from here too).
-- Incremental: a refresh reads only the events validated since the last build, plus the events that were
-- after the previous as-of date and are now before the new one. Decay stays exact: the decayed sum carried
-- forward is multiplied by 0.5 ** (elapsed days / half-life) before the new points are added. Rebuilt in full
-- when the as-of date moves back, the points or half-lives of engagement_event_points change, or the
-- validated events were rebuilt (see decayed_state_is_current). At an unchanged as-of date only the rows with
-- new events are rewritten.
{{
    config(
        materialized='incremental',
        unique_key=['lead_id', 'event_type'],
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='fail',
        meta={'state_check': 'decayed_state_is_current'}
    )
}}

with

event_points as (

    select
        event_type,
        points,
        half_life_days
    from {{ ref('engagement_event_points') }}

),

events as (

    select
        lead_id,
        event_type,
        occurred_at
    from {{ ref('int_events_validated') }}
    where
        reject_reason is null
        and occurred_at < {{ as_of_end_at() }}
    {% if is_incremental() %}
            and (
                validated_at > (select max(previous.validated_through) from {{ this }} as previous)
                or occurred_at >= (select max(previous.decayed_at) from {{ this }} as previous)
            )
        {% endif %}

),

new_points as (

    select
        events.lead_id,
        events.event_type,
        count(*) as event_count,
        max(events.occurred_at) as last_occurred_at,
        sum(event_points.points) as undecayed_points,
        sum(
            event_points.points
            * {{ decay_factor(age_in_days('events.occurred_at', as_of_end_at()), 'event_points.half_life_days') }}
        ) as decayed_points
    from events
    inner join event_points on events.event_type = event_points.event_type
    group by events.lead_id, events.event_type

),

{% if is_incremental() %}

carried as (

    select
        previous.lead_id,
        previous.event_type,
        previous.event_count,
        previous.last_occurred_at,
        previous.undecayed_points,
        previous.decayed_points
        * {{ decay_factor(age_in_days('previous.decayed_at', as_of_end_at()), 'event_points.half_life_days') }}
        as decayed_points
    from {{ this }} as previous
    inner join event_points on previous.event_type = event_points.event_type
    -- Same as-of date: a row without new events keeps its decayed sum, so only the rows with new events are
    -- rewritten (a refresh every few minutes touches thousands of rows, not millions). A new as-of date
    -- moves every row's decay, and every row is rewritten.
    where
        previous.decayed_at <> {{ as_of_end_at() }}
        or exists (
            select 1 as has_new_points
            from new_points
            where new_points.lead_id = previous.lead_id and new_points.event_type = previous.event_type
        )

),

merged as (

    select
        coalesce(carried.lead_id, new_points.lead_id) as lead_id,
        coalesce(carried.event_type, new_points.event_type) as event_type,
        coalesce(carried.event_count, 0) + coalesce(new_points.event_count, 0) as event_count,
        case
            when carried.last_occurred_at is null then new_points.last_occurred_at
            when new_points.last_occurred_at is null then carried.last_occurred_at
            when new_points.last_occurred_at > carried.last_occurred_at then new_points.last_occurred_at
            else carried.last_occurred_at
        end as last_occurred_at,
        coalesce(carried.undecayed_points, 0) + coalesce(new_points.undecayed_points, 0) as undecayed_points,
        coalesce(carried.decayed_points, 0) + coalesce(new_points.decayed_points, 0) as decayed_points
    from carried
    full outer join new_points
        on carried.lead_id = new_points.lead_id and carried.event_type = new_points.event_type

),

{% else %}

merged as (

    select * from new_points

),

{% endif %}

final as (

    select
        merged.lead_id,
        merged.event_type,
        merged.event_count,
        merged.last_occurred_at,
        cast(merged.undecayed_points as {{ type_double() }}) as undecayed_points,
        cast(merged.decayed_points as {{ type_double() }}) as decayed_points,
        {{ as_of_end_at() }} as decayed_at,
        (
            select max(validated.validated_at) as validated_through
            from {{ ref('int_events_validated') }} as validated
        )
            as validated_through,
        {{ seed_state_key(ref("engagement_event_points"), ["event_type", "points", "half_life_days"]) }}
            as points_key
    from merged

)

select * from final
