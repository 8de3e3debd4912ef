-- Every raw row that broke the data contract, with the reason, the file and line it came from.
with

leads as (

    select * from {{ ref('int_leads_validated') }}
    where reject_reason is not null

),

events as (

    select * from {{ ref('int_events_validated') }}
    where reject_reason is not null

),

orders as (

    select * from {{ ref('int_orders_validated') }}
    where reject_reason is not null

),

unioned as (

    select
        'leads' as source_table,
        lead_id as row_id,
        reject_reason,
        source_file,
        source_line,
        loaded_at
    from leads

    union all

    select
        'events' as source_table,
        event_id as row_id,
        reject_reason,
        source_file,
        source_line,
        loaded_at
    from events

    union all

    select
        'orders' as source_table,
        order_id as row_id,
        reject_reason,
        source_file,
        source_line,
        loaded_at
    from orders

),

final as (

    select
        source_table || ':' || source_file || ':' || cast(source_line as {{ dbt.type_string() }}) as rejected_row_id,
        source_table,
        row_id,
        reject_reason,
        source_file,
        cast(source_line as {{ dbt.type_bigint() }}) as source_line,
        loaded_at,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id
    from unioned

)

select * from final
