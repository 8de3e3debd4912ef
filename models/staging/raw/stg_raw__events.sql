with

source as (

    select * from {{ source('raw', 'events') }}

),

renamed as (

    select
        nullif(trim(event_id), '') as event_id,
        nullif(trim(lead_id), '') as lead_id,
        nullif(lower(trim(event_type)), '') as event_type,
        nullif(lower({{ json_extract_text('properties', 'bounce_type') }}), '') as event_subtype,
        {{ parse_iso_timestamp('occurred_at') }} as occurred_at,
        properties,
        {{ json_extract_text('properties', 'url') }} as page_url,
        {{ json_extract_text('properties', 'campaign') }} as campaign,
        nullif(trim(occurred_at), '') is not null
        and {{ parse_iso_timestamp('occurred_at') }} is null as has_unparseable_occurred_at,
        nullif(trim(properties), '') is not null
        and not {{ is_valid_json('properties') }} as has_unparseable_properties,
        _source_file as source_file,
        _source_line as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
