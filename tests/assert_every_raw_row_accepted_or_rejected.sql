-- A failure means raw rows went missing between the raw layer and validation: every raw row must be either
-- accepted or in rejected_rows. Each row is a raw table whose counts do not match.
with

counts as (

    select
        'leads' as source_table,
        (select count(*) as n from {{ source('raw', 'leads') }}) as raw_rows,
        (select count(*) as n from {{ ref('int_leads_validated') }}) as validated_rows
    union all
    select
        'events' as source_table,
        (select count(*) as n from {{ source('raw', 'events') }}) as raw_rows,
        (select count(*) as n from {{ ref('int_events_validated') }}) as validated_rows
    union all
    select
        'orders' as source_table,
        (select count(*) as n from {{ source('raw', 'orders') }}) as raw_rows,
        (select count(*) as n from {{ ref('int_orders_validated') }}) as validated_rows

)

select * from counts
where raw_rows <> validated_rows
