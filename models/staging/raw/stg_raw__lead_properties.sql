-- The raw leads in long form: one row per raw lead row and lead property (every column of the loaded file but
-- the lead id, the email address and the dates, extra export columns included; plus email_domain), with the
-- value as given (trimmed), folded as rules compare it, and as a number when it reads as one. The columns are
-- read from the warehouse when dbt runs (macro lead_property_columns), so an export's own columns are kept.
{%- set columns = lead_property_columns() %}

with

source as (

    select * from {{ source('raw', 'leads') }}

),

renamed as (

    {%- for column in columns %}

        select
            nullif(trim(lead_id), '') as lead_id,
            '{{ column | lower }}' as property_name,
            nullif(trim({{ adapter.quote(column) }}), '') as property_value,
            {{ property_value_folded(adapter.quote(column)) }} as folded_value,
            _source_file as source_file,
            _source_line as source_line,
            _loaded_at as loaded_at
        from source

        union all

    {%- endfor %}

    select
        nullif(trim(lead_id), '') as lead_id,
        'email_domain' as property_name,
        nullif(trim({{ dbt.split_part('email', "'@'", 2) }}), '') as property_value,
        {{ property_value_folded(dbt.split_part('email', "'@'", 2)) }} as folded_value,
        _source_file as source_file,
        _source_line as source_line,
        _loaded_at as loaded_at
    from source

)

select * from renamed
