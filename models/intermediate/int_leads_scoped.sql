-- The accepted leads that existed on the as-of date: the population that gets scored.
-- A view: a filter of int_leads_validated that its readers apply as they scan (writing its million rows of
-- text cost a few seconds a build at 1 M leads).
{{ config(materialized='view') }}

with

leads as (

    select * from {{ ref('int_leads_validated') }}
    where reject_reason is null

),

scoped as (

    select
        lead_id,
        email,
        email_domain,
        company_name,
        industry_key,
        employee_count,
        annual_revenue,
        country_code,
        job_title,
        lead_source,
        lifecycle_stage,
        created_at,
        case when converted_at < {{ as_of_end_at() }} then converted_at end as converted_at,
        coalesce(converted_at < {{ as_of_end_at() }}, false) as is_customer,
        source_file,
        source_line,
        loaded_at
    from leads
    where created_at < {{ as_of_end_at() }}

)

select * from scoped
