-- One row per lead, event type, subtype and UTC day: how many accepted events of the types the negative rules
-- count (event rules, and the email_sent / email_open of open-rate rules), whatever the as-of date (the rules
-- read the days before it, so a window of N days is exact: the as-of date ends at midnight).
-- Incremental: a refresh adds the events validated since the last build to their days. Rebuilt in full when
-- the counted event types change (the negative_rules columns of its state) or the validated events were
-- rebuilt (its state below; docs/incremental-refresh.md).
{%- set state = {
    'seeds': {'negative_rules': ['rule_type', 'match_value']},
    'batches_of': 'int_events_validated',
} %}
{{
    config(
        materialized='incremental',
        unique_key=['lead_id', 'event_type', 'event_subtype', 'event_date'],
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='fail',
        meta={'state': state}
    )
}}

with

counted_types as (

    select distinct match_value as event_type from {{ ref('negative_rules') }}
    where rule_type = 'event'
    union
    select 'email_sent' as event_type from {{ ref('negative_rules') }}
    where rule_type = 'open_rate'
    union
    select 'email_open' as event_type from {{ ref('negative_rules') }}
    where rule_type = 'open_rate'

),

events as (

    select
        events.lead_id,
        events.event_type,
        cast(events.occurred_at as date) as event_date,
        coalesce(events.event_subtype, '') as event_subtype
    from {{ ref('int_events_validated') }} as events
    inner join counted_types on events.event_type = counted_types.event_type
    where
        events.reject_reason is null
    {% if is_incremental() %}
            and events.validated_at > (select max(previous.validated_through) from {{ this }} as previous)
        {% endif %}

),

new_counts as (

    select
        lead_id,
        event_type,
        event_subtype,
        event_date,
        count(*) as event_count
    from events
    group by lead_id, event_type, event_subtype, event_date

),

{% if is_incremental() %}

merged as (

    select
        new_counts.lead_id,
        new_counts.event_type,
        new_counts.event_subtype,
        new_counts.event_date,
        new_counts.event_count + coalesce(previous.event_count, 0) as event_count
    from new_counts
    left join {{ this }} as previous
        on
            new_counts.lead_id = previous.lead_id
            and new_counts.event_type = previous.event_type
            and new_counts.event_subtype = previous.event_subtype
            and new_counts.event_date = previous.event_date

),

{% else %}

merged as (

    select * from new_counts

),

{% endif %}

final as (

    select
        merged.lead_id,
        merged.event_type,
        merged.event_subtype,
        merged.event_date,
        merged.event_count,
        {{ state_columns(state) }}
    from merged

)

select * from final
