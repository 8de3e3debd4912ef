with

source as (

    select * from {{ source('raw', 'leads') }}

),

renamed as (

    select
        nullif(trim(lead_id), '') as lead_id,
        nullif(lower(trim(email)), '') as email,
        nullif(lower(trim({{ dbt.split_part('email', "'@'", 2) }})), '') as email_domain,
        nullif(trim(company_name), '') as company_name,
        nullif(lower(trim(industry)), '') as industry_key,
        {{ try_cast_value('trim(employee_count)', 'integer') }} as employee_count,
        {{ try_cast_value('trim(annual_revenue)', 'decimal(18, 2)') }} as annual_revenue,
        nullif(upper(trim(country_code)), '') as country_value,
        nullif(trim(job_title), '') as job_title,
        nullif(lower(trim(lead_source)), '') as lead_source,
        {{ parse_iso_timestamp('created_at') }} as created_at,
        nullif(lower(trim(lifecycle_stage)), '') as lifecycle_stage,
        {{ parse_iso_timestamp('converted_at') }} as converted_at,
        nullif(trim(employee_count), '') is not null
        and {{ try_cast_value('trim(employee_count)', 'integer') }} is null as has_unparseable_employee_count,
        nullif(trim(annual_revenue), '') is not null
        and {{ try_cast_value('trim(annual_revenue)', 'decimal(18, 2)') }} is null
            as has_unparseable_annual_revenue,
        {{ is_rounded_by_cast('trim(employee_count)', 'integer') }} as has_fractional_employee_count,
        {{ is_rounded_by_cast('trim(annual_revenue)', 'decimal(18, 2)') }} as has_sub_cent_annual_revenue,
        nullif(trim(created_at), '') is not null
        and {{ parse_iso_timestamp('created_at') }} is null as has_unparseable_created_at,
        nullif(trim(converted_at), '') is not null
        and {{ parse_iso_timestamp('converted_at') }} is null as has_unparseable_converted_at,
        _source_file as source_file,
        _source_line as source_line,
        _loaded_at as loaded_at

    from source

)

select * from renamed
