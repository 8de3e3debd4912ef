-- Every raw lead row with the first contract rule it breaks (reject_reason), or null when it is accepted, and
-- its country as an ISO code (a two-letter code, or a name of seed country_names).
-- Incremental: a refresh validates only the rows loaded since the last build (raw leads are appended to and
-- never changed; a later row with a known lead_id is a duplicate). It is rebuilt in full when the rows it
-- already validated changed: a full load replaced the raw leads, or country_names changed (its state below;
-- docs/incremental-refresh.md).
{%- set state = {
    'seeds': {'country_names': ['country_name', 'country_code']},
    'validates': 'stg_raw__leads',
} %}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'state': state}
    )
}}

with

leads as (

    select * from {{ ref('stg_raw__leads') }}
    {% if is_incremental() %}
        where loaded_at > (select max(previous.loaded_at) from {{ this }} as previous)
    {% endif %}

),

{% if is_incremental() %}

-- Rows earlier builds validated with the lead_id of a newly loaded row (every one was loaded before it).
earlier_copies as (

    select
        previous.lead_id,
        count(*) as copy_count
    from {{ this }} as previous
    where
        previous.lead_id in (select loaded.lead_id from leads as loaded)
        or (previous.lead_id is null and exists (select 1 from leads as loaded where loaded.lead_id is null))
    group by previous.lead_id

),

{% endif %}

country_names as (

    select
        country_code,
        upper(trim(country_name)) as country_value
    from {{ ref('country_names') }}

),

numbered as (

    select
        leads.*,
        -- A listed name first (UK is GB), else the value itself when it has the form of a code.
        coalesce(
            country_names.country_code,
            case when {{ is_country_code('leads.country_value') }} then leads.country_value end
        ) as country_code,
        row_number() over (partition by leads.lead_id order by leads.loaded_at, leads.source_file, leads.source_line)
        {% if is_incremental() %}
            + coalesce(earlier_copies.copy_count, 0)
        {% endif %}
            as lead_id_occurrence
    from leads
    left join country_names on leads.country_value = country_names.country_value
    {% if is_incremental() %}
        left join earlier_copies on leads.lead_id is not distinct from earlier_copies.lead_id
    {% endif %}

),

validated as (

    select
        *,
        case
            when lead_id is null then 'missing_lead_id'
            when lead_id_occurrence > 1 then 'duplicate_lead_id'
            when created_at is null and has_unparseable_created_at then 'unparseable_created_at'
            when created_at is null then 'missing_created_at'
            when has_unparseable_converted_at then 'unparseable_converted_at'
            when has_unparseable_employee_count then 'unparseable_employee_count'
            when has_unparseable_annual_revenue then 'unparseable_annual_revenue'
            when has_fractional_employee_count then 'fractional_employee_count'
            when has_sub_cent_annual_revenue then 'sub_cent_annual_revenue'
            when employee_count < 0 then 'negative_employee_count'
            when annual_revenue < 0 then 'negative_annual_revenue'
            when country_value is not null and country_code is null then 'unknown_country'
            when created_at > loaded_at then 'created_at_after_load'
            when converted_at > loaded_at then 'converted_at_after_load'
            when converted_at < created_at then 'converted_before_created'
        end as reject_reason,
        {{ state_columns(state) }}
    from numbered

)

select * from validated
