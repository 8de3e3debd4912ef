-- One row per lead and event rule that took accepted events before the end of the as-of date: how many, the
-- last one, and their points summed without decay and with exponential decay as of that date (every rule,
-- including those worth 0 points, so that the last activity of a lead comes from here too).
-- Each accepted event counts for exactly one rule of engagement_event_points: the first rule of its type whose
-- property matches (lowest match_priority, ties by event_rule), else the type's rule without a property; an
-- event no rule takes counts for none. Only the events of a type that has property rules are matched against
-- their properties (read from staging: int_events_validated leaves the JSON there).
-- Incremental: a refresh reads only the events validated since the last build, plus the events that were
-- after the previous as-of date and are now before the new one. Decay stays exact: the decayed sum carried
-- forward is multiplied by 0.5 ** (elapsed days / half-life) before the new points are added. Rebuilt in full
-- when the as-of date moves back, a column of the rules that decides which events a rule takes or what they
-- are worth changes (the engagement_event_points columns of its state; not cap_points, buying_stage or
-- description, applied after the sums in int_leads_engagement_scored), or the validated events were rebuilt
-- (its state below; docs/incremental-refresh.md). At an unchanged as-of date only the rows with new events
-- are rewritten.
{%- set state = {
    'seeds': {'engagement_event_points': [
        'event_rule', 'event_type', 'property_name', 'match_values', 'match_priority', 'points', 'half_life_days',
    ]},
    'batches_of': 'int_events_validated',
    'as_of_column': 'decayed_at',
} %}
{{
    config(
        materialized='incremental',
        unique_key=['lead_id', 'event_rule'],
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='fail',
        meta={'state': state}
    )
}}

with

rules as (

    select
        event_rule,
        event_type,
        property_name,
        match_values,
        points,
        half_life_days,
        coalesce(match_priority, 2147483647) as match_priority
    from {{ ref('engagement_event_points') }}

),

-- The properties the rules read, per event type, and the types that have such rules.
rule_properties as (

    select distinct
        event_type,
        property_name
    from rules
    where property_name is not null

),

property_rule_types as (

    select distinct event_type from rule_properties

),

events as (

    select
        lead_id,
        event_type,
        occurred_at,
        source_file,
        source_line,
        loaded_at
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

-- Events of a type without property rules: the type's rule (if it has one).
type_ruled as (

    select
        events.lead_id,
        rules.event_rule,
        events.occurred_at
    from events
    inner join rules on events.event_type = rules.event_type
    where events.event_type not in (select property_types.event_type from property_rule_types as property_types)

),

-- Events of a type with property rules, with the value of each property their type's rules read (the JSON
-- properties stay in staging: only these events read them). An event is known by its lineage key.
{%- set event_columns = ['lead_id', 'occurred_at', 'source_file', 'source_line', 'loaded_at'] %}
property_events as (

    select
        {%- for column in event_columns %}
        events.{{ column }},
        {%- endfor %}
        events.event_type,
        staged.properties
    from events
    inner join {{ ref('stg_raw__events') }} as staged
        on
            events.source_file = staged.source_file
            and events.source_line = staged.source_line
            and events.loaded_at = staged.loaded_at
    where events.event_type in (select property_types.event_type from property_rule_types as property_types)

),

event_properties as (

    select
        {%- for column in event_columns %}
        property_events.{{ column }},
        {%- endfor %}
        property_events.event_type,
        rule_properties.property_name,
        {{ json_extract_text_by_name('property_events.properties', 'rule_properties.property_name') }}
            as property_value
    from property_events
    inner join rule_properties on property_events.event_type = rule_properties.event_type

),

-- Patterns are matched once per distinct value (a site has hundreds of pages, not millions), then joined back.
property_values as (

    select distinct
        event_type,
        property_name,
        property_value
    from event_properties
    where property_value is not null

),

-- The first matching property rule of each distinct value (lowest match_priority, ties by event_rule).
value_matches as (

    select
        property_values.event_type,
        property_values.property_name,
        property_values.property_value,
        rules.event_rule,
        rules.match_priority,
        row_number() over (
            partition by property_values.event_type, property_values.property_name, property_values.property_value
            order by rules.match_priority, rules.event_rule
        ) as value_rank
    from property_values
    inner join rules
        on
            property_values.event_type = rules.event_type
            and property_values.property_name = rules.property_name
    where {{ regexp_found('property_values.property_value', 'rules.match_values') }}

),

-- Events a property rule takes: the first one over the properties their type's rules read (one by default).
property_matched as (

    select
        {%- for column in event_columns %}
        event_properties.{{ column }},
        {%- endfor %}
        value_matches.event_rule,
        row_number() over (
            partition by event_properties.source_file, event_properties.source_line, event_properties.loaded_at
            order by value_matches.match_priority, value_matches.event_rule
        ) as rule_rank
    from event_properties
    inner join value_matches
        on
            event_properties.event_type = value_matches.event_type
            and event_properties.property_name = value_matches.property_name
            and event_properties.property_value = value_matches.property_value
    where value_matches.value_rank = 1

),

-- Each such event: the property rule that takes it, else its type's rule without a property (if any).
property_ruled as (

    select
        property_events.lead_id,
        coalesce(property_matched.event_rule, type_rules.event_rule) as event_rule,
        property_events.occurred_at
    from property_events
    left join property_matched
        on
            property_events.source_file = property_matched.source_file
            and property_events.source_line = property_matched.source_line
            and property_events.loaded_at = property_matched.loaded_at
            and property_matched.rule_rank = 1
    left join rules as type_rules
        on property_events.event_type = type_rules.event_type and type_rules.property_name is null
    where coalesce(property_matched.event_rule, type_rules.event_rule) is not null

),

ruled_events as (

    select * from type_ruled
    union all
    select * from property_ruled

),

new_points as (

    select
        ruled_events.lead_id,
        ruled_events.event_rule,
        count(*) as event_count,
        max(ruled_events.occurred_at) as last_occurred_at,
        sum(rules.points) as undecayed_points,
        sum(
            rules.points
            * {{ decay_factor(age_in_days('ruled_events.occurred_at', as_of_end_at()), 'rules.half_life_days') }}
        ) as decayed_points
    from ruled_events
    inner join rules on ruled_events.event_rule = rules.event_rule
    group by ruled_events.lead_id, ruled_events.event_rule

),

{% if is_incremental() %}

carried as (

    select
        previous.lead_id,
        previous.event_rule,
        previous.event_count,
        previous.last_occurred_at,
        previous.undecayed_points,
        previous.decayed_points
        * {{ decay_factor(age_in_days('previous.decayed_at', as_of_end_at()), 'rules.half_life_days') }}
        as decayed_points
    from {{ this }} as previous
    inner join rules on previous.event_rule = rules.event_rule
    -- Same as-of date: a row without new events keeps its decayed sum, so only the rows with new events are
    -- rewritten (a refresh every few minutes touches thousands of rows, not millions). A new as-of date
    -- moves every row's decay, and every row is rewritten.
    where
        previous.decayed_at <> {{ as_of_end_at() }}
        or exists (
            select 1 as has_new_points
            from new_points
            where new_points.lead_id = previous.lead_id and new_points.event_rule = previous.event_rule
        )

),

merged as (

    select
        coalesce(carried.lead_id, new_points.lead_id) as lead_id,
        coalesce(carried.event_rule, new_points.event_rule) as event_rule,
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
        on carried.lead_id = new_points.lead_id and carried.event_rule = new_points.event_rule

),

{% else %}

merged as (

    select * from new_points

),

{% endif %}

final as (

    select
        merged.lead_id,
        merged.event_rule,
        rules.event_type,
        merged.event_count,
        merged.last_occurred_at,
        cast(merged.undecayed_points as {{ type_double() }}) as undecayed_points,
        cast(merged.decayed_points as {{ type_double() }}) as decayed_points,
        {{ state_columns(state) }}
    from merged
    inner join rules on merged.event_rule = rules.event_rule

)

select * from final
