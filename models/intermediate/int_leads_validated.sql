-- Every raw lead row with the first contract rule it breaks (reject_reason), or null when it is accepted.
with

leads as (

    select * from {{ ref('stg_raw__leads') }}

),

numbered as (

    select
        *,
        row_number() over (
            partition by lead_id order by loaded_at, source_file, source_line
        ) as lead_id_occurrence
    from leads

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
            when employee_count < 0 then 'negative_employee_count'
            when annual_revenue < 0 then 'negative_annual_revenue'
            when created_at > loaded_at then 'created_at_after_load'
            when converted_at > loaded_at then 'converted_at_after_load'
            when converted_at < created_at then 'converted_before_created'
        end as reject_reason
    from numbered

)

select * from validated
