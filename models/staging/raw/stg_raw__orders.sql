with

source as (

    select * from {{ source('raw', 'orders') }}

),

renamed as (

    select
        nullif(trim(order_id), '') as order_id,
        nullif(trim(lead_id), '') as lead_id,
        {{ parse_iso_timestamp('ordered_at') }} as ordered_at,
        {{ try_cast_value('trim(amount)', 'decimal(18, 2)') }} as amount,
        nullif(upper(trim(currency)), '') as currency,
        nullif(lower(trim(status)), '') as order_status,
        nullif(trim(ordered_at), '') is not null
        and {{ parse_iso_timestamp('ordered_at') }} is null as has_unparseable_ordered_at,
        nullif(trim(amount), '') is not null
        and {{ try_cast_value('trim(amount)', 'decimal(18, 2)') }} is null as has_unparseable_amount,
        {{ is_rounded_by_cast('trim(amount)', 'decimal(18, 2)') }} as has_sub_cent_amount,
        _source_file as source_file,
        _source_line as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
