-- Every raw event row with the first contract rule it breaks (reject_reason), or null when it is accepted.
-- Incremental: a refresh validates only the rows loaded since the last build, plus the rows rejected for an
-- unknown lead (their lead may have arrived since). It is rebuilt in full when rows it already validated
-- changed: a full load replaced the raw events, the raw leads were replaced rather than appended to, or the
-- event types of engagement_event_points or the state of int_leads_validated (its country names) changed
-- (its state below; docs/incremental-refresh.md; a new rule of a known type changes no validation).
-- Narrow on purpose (47.5 M rows at 1 M leads): the columns the scoring and the rejects need. event_id is kept
-- for rejected rows only (rejected_rows shows it; accepted rows' ids stay in stg_raw__events), and the JSON
-- properties, page URL and campaign are left in staging: writing those strings cost more than the rest.
{%- set state = {
    'seed_values': {'engagement_event_points': ['event_type']},
    'input_states': ['int_leads_validated'],
    'validates': 'stg_raw__events',
    'appended_only': {'int_leads_validated': 'leads'},
    'latest_batch': 'validated_at',
} %}
{{
    config(
        materialized='incremental',
        unique_key=['source_file', 'source_line', 'loaded_at'],
        incremental_strategy=('append' if target.type == 'spark' else 'delete+insert'),
        on_schema_change='fail',
        meta={'state': state}
    )
}}

{%- set checked_columns = [
    'event_id', 'lead_id', 'event_type', 'event_subtype', 'occurred_at', 'has_unparseable_occurred_at',
    'has_unparseable_properties', 'source_file', 'source_line', 'loaded_at',
] -%}

with

staged as (

    select
        {{ checked_columns | join(',\n        ') }}
    from {{ ref('stg_raw__events') }}
    {% if is_incremental() %}
        where loaded_at > (select max(previous.loaded_at) from {{ this }} as previous)
    {% endif %}

),

{% if is_incremental() %}

rechecked as (

    select
        {{ checked_columns | join(',\n        ') }}
    from {{ this }}
    where reject_reason = 'unknown_or_rejected_lead'

),

candidates as (

    select
        *,
        true as is_new
    from staged
    union all
    select
        *,
        false as is_new
    from rechecked

),

-- Copies of an event_id among the rows earlier builds validated (every raw row loaded up to the last one
-- this table holds): a newly loaded row with such an id is a duplicate.
earlier_copies as (

    select
        previous.event_id,
        count(*) as copy_count
    from {{ ref('stg_raw__events') }} as previous
    where
        previous.loaded_at <= (select max(validated.loaded_at) from {{ this }} as validated)
        and previous.event_id in (select loaded.event_id from staged as loaded)
    group by previous.event_id

),

{% else %}

candidates as (

    select
        *,
        true as is_new
    from staged

),

{% endif %}

-- Ids given to more than one candidate row, then the rank of each of those rows among its copies (by load
-- time, file and line): an aggregate over every row and a window over the few repeated ones, far cheaper
-- than a window over every row. The aggregate groups a 64-bit hash of the id, not the text (a hash table of
-- 475 M text keys at 10 M leads spilled tens of GB); a rare collision only brings a unique id into the window,
-- which partitions by the id itself and numbers it 1.
repeated_event_id_hashes as (

    select {{ text_hash('event_id') }} as event_id_hash
    from candidates
    where event_id is not null
    group by {{ text_hash('event_id') }}
    having count(*) > 1

),

occurrences as (

    select
        source_file,
        source_line,
        loaded_at,
        row_number() over (partition by event_id order by loaded_at, source_file, source_line) as occurrence
    from candidates
    where
        event_id is not null
        and {{ text_hash('event_id') }} in (
            select repeated.event_id_hash from repeated_event_id_hashes as repeated
        )

),

accepted_leads as (

    select lead_id from {{ ref('int_leads_validated') }}
    where reject_reason is null

),

-- The known event types: every type with a rule in engagement_event_points (a type may have several).
event_types as (

    select distinct event_type from {{ ref('engagement_event_points') }}

),

numbered as (

    select
        candidates.event_id,
        candidates.lead_id,
        candidates.event_type,
        candidates.event_subtype,
        candidates.occurred_at,
        candidates.has_unparseable_occurred_at,
        candidates.has_unparseable_properties,
        candidates.source_file,
        candidates.source_line,
        candidates.loaded_at,
        accepted_leads.lead_id is not null as has_known_lead,
        event_types.event_type is not null as has_known_event_type,
        coalesce(occurrences.occurrence, 1)
        {% if is_incremental() %}
            + case when candidates.is_new then coalesce(earlier_copies.copy_count, 0) else 0 end
        {% endif %}
            as event_id_occurrence
    from candidates
    left join occurrences
        on
            candidates.source_file = occurrences.source_file
            and candidates.source_line = occurrences.source_line
            and candidates.loaded_at = occurrences.loaded_at
    left join accepted_leads on candidates.lead_id = accepted_leads.lead_id
    left join event_types on candidates.event_type = event_types.event_type
    {% if is_incremental() %}
        left join earlier_copies on candidates.event_id = earlier_copies.event_id
    {% endif %}

),

checked as (

    select
        numbered.*,
        case
            when numbered.event_id is null then 'missing_event_id'
            when numbered.event_id_occurrence > 1 then 'duplicate_event_id'
            when numbered.lead_id is null then 'missing_lead_id'
            when not numbered.has_known_lead then 'unknown_or_rejected_lead'
            when numbered.event_type is null then 'missing_event_type'
            when not numbered.has_known_event_type then 'unknown_event_type'
            when numbered.occurred_at is null and numbered.has_unparseable_occurred_at
                then 'unparseable_occurred_at'
            when numbered.occurred_at is null then 'missing_occurred_at'
            when numbered.occurred_at > numbered.loaded_at then 'occurred_at_after_load'
            when numbered.has_unparseable_properties then 'unparseable_properties'
        end as reject_reason
    from numbered

),

validated as (

    select
        case when checked.reject_reason is not null then checked.event_id end as event_id,
        checked.lead_id,
        checked.event_type,
        checked.event_subtype,
        checked.occurred_at,
        checked.has_unparseable_occurred_at,
        checked.has_unparseable_properties,
        checked.source_file,
        checked.source_line,
        checked.loaded_at,
        checked.has_known_lead,
        checked.has_known_event_type,
        checked.event_id_occurrence,
        checked.reject_reason,
        {{ run_started_at_timestamp() }} as validated_at,
        {{ state_columns(state) }}
    from checked

)

select * from validated
