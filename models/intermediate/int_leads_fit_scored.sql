-- One row per scored lead and fit dimension (industry, company size, geography, job role) with its points.
-- Patched at an unchanged as-of date: only the leads of int_leads_changed are rescored (their rows deleted,
-- then appended); any other build rebuilds it in full (see lead_patch_is_current).
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'state_check': 'lead_patch_is_current'},
        pre_hook="{{ changed_leads_deleted() }}"
    )
}}
-- depends_on: {{ ref('int_leads_changed') }}
with

leads as (

    select * from {{ ref('int_leads_scoped') }}
    where {{ changed_leads_filter('lead_id') }}

),

industry_points as (

    select * from {{ ref('fit_industry_points') }}

),

size_bands as (

    select * from {{ ref('fit_company_size_bands') }}

),

geo_zones as (

    select * from {{ ref('fit_geo_zones') }}

),

zone_points as (

    select * from {{ ref('fit_zone_points') }}

),

job_roles as (

    select * from {{ ref('fit_job_roles') }}

),

industry as (

    select
        leads.lead_id,
        'industry' as component_key,
        coalesce(matched_industry.industry_key, fallback.industry_key) as rule_key,
        coalesce(leads.industry_key, '(empty)') as matched_value,
        coalesce(matched_industry.points, fallback.points) as points
    from leads
    left join industry_points as matched_industry on leads.industry_key = matched_industry.industry_key
    left join industry_points as fallback on fallback.industry_key = 'other'

),

company_size as (

    select
        leads.lead_id,
        'company_size' as component_key,
        coalesce(size_bands.band_key, 'unknown') as rule_key,
        coalesce(cast(leads.employee_count as {{ dbt.type_string() }}) || ' employees', '(empty)') as matched_value,
        coalesce(size_bands.points, cast(0 as decimal(10, 4))) as points
    from leads
    left join size_bands
        on {{ in_band('leads.employee_count', 'size_bands.min_employees', 'size_bands.max_employees') }}

),

geography as (

    select
        leads.lead_id,
        'geography' as component_key,
        zone_points.zone_key as rule_key,
        coalesce(leads.country_code, '(empty)') as matched_value,
        zone_points.points
    from leads
    left join geo_zones on leads.country_code = geo_zones.country_code
    inner join zone_points on coalesce(geo_zones.zone_key, 'outside') = zone_points.zone_key

),

role_matches as (

    select
        leads.lead_id,
        job_roles.role_key,
        job_roles.points,
        row_number() over (
            partition by leads.lead_id order by job_roles.match_priority, job_roles.role_key
        ) as match_rank
    from leads
    inner join job_roles on leads.job_title_padded like job_roles.title_pattern

),

job_role as (

    select
        leads.lead_id,
        'job_role' as component_key,
        coalesce(role_matches.role_key, case when leads.job_title is null then 'no_title' else 'unmatched' end)
            as rule_key,
        coalesce(leads.job_title, '(empty)') as matched_value,
        coalesce(role_matches.points, cast(0 as decimal(10, 4))) as points
    from leads
    left join role_matches on leads.lead_id = role_matches.lead_id and role_matches.match_rank = 1

),

unioned as (

    select * from industry
    union all
    select * from company_size
    union all
    select * from geography
    union all
    select * from job_role

),

final as (

    select
        *,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id
    from unioned

)

select * from final
