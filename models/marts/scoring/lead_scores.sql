-- The ranked lead-score mart BI tools read: one row per lead scored as of the as-of date.
-- Patched at an unchanged as-of date: only the leads of int_leads_changed are rescored (their rows deleted,
-- then appended), then every lead re-ranked and stamped with this build; any other build rebuilds it in full
-- (see incremental_state_is_current).
{{ lead_patched_config(post_hook='{{ lead_scores_reranked() }}') }}
-- depends_on: {{ ref('int_leads_changed') }}
with

leads as (

    select * from {{ ref('int_leads_scoped') }}
    where {{ changed_leads_filter('lead_id') }}

),

points as (

    select * from {{ ref('int_lead_points_weighted') }}
    where {{ changed_leads_filter('lead_id') }}

),

engagement as (

    select * from {{ ref('int_leads_engagement_levelled') }}
    where {{ changed_leads_filter('lead_id') }}

),

rfm as (

    select * from {{ ref('int_leads_rfm_scored') }}
    where {{ changed_leads_filter('lead_id') }}

),

tiers as (

    select * from {{ ref('score_tiers') }}

),

fit_grade_bands as (

    select * from {{ ref('fit_grade_bands') }}

),

grade_matrix as (

    select * from {{ ref('grade_matrix') }}

),

settings as (

    select setting_value as mql_threshold from {{ ref('score_settings') }}
    where setting_key = 'mql_threshold'

),

components as (

    select
        lead_id,
        sum(case when dimension_key = 'industry' then points else 0 end) as industry_points,
        sum(case when dimension_key = 'company_size' then points else 0 end) as company_size_points,
        sum(case when dimension_key = 'geography' then points else 0 end) as geography_points,
        sum(case when dimension_key = 'job_role' then points else 0 end) as job_role_points,
        sum(case when component_key = 'fit' then score_points else 0 end) as fit_score,
        sum(case when component_key = 'engagement' then score_points else 0 end) as engagement_score,
        sum(case when component_key = 'negative' then score_points else 0 end) as negative_score,
        sum(case when component_key = 'rfm' then score_points else 0 end) as rfm_score,
        sum(score_points) as score_total
    from points
    group by lead_id

),

scored as (

    select
        leads.lead_id,
        leads.company_name,
        leads.email_domain,
        {% if var('expose_personal_data') %}leads.email{% else %}cast(null as {{ dbt.type_string() }}){% endif %}
            as email,
        leads.industry_key,
        leads.employee_count,
        leads.country_code,
        leads.job_title,
        leads.lead_source,
        leads.lifecycle_stage,
        leads.created_at,
        leads.converted_at,
        leads.is_customer,
        components.industry_points,
        components.company_size_points,
        components.geography_points,
        components.job_role_points,
        components.fit_score,
        engagement.engagement_points,
        engagement.engagement_level,
        components.engagement_score,
        components.negative_score,
        rfm.rfm_segment,
        components.rfm_score,
        components.score_total,
        engagement.buying_stage,
        engagement.engagement_grade,
        engagement.last_activity_at
    from leads
    inner join components on leads.lead_id = components.lead_id
    inner join engagement on leads.lead_id = engagement.lead_id
    left join rfm on leads.lead_id = rfm.lead_id

),

graded as (

    select
        scored.*,
        tiers.tier_key as tier,
        tiers.action as tier_action,
        fit_grade_bands.fit_grade,
        grade_matrix.grade_cell,
        grade_matrix.action as grade_action,
        scored.score_total >= settings.mql_threshold as is_mql
    from scored
    cross join settings
    left join tiers on {{ in_band('scored.score_total', 'tiers.min_score', 'tiers.max_score') }}
    left join fit_grade_bands
        on {{ in_band('scored.fit_score', 'fit_grade_bands.min_fit_points', 'fit_grade_bands.max_fit_points') }}
    left join grade_matrix
        on
            fit_grade_bands.fit_grade = grade_matrix.fit_grade
            and scored.engagement_grade = grade_matrix.engagement_grade

),

final as (

    select
        lead_id,
        company_name,
        email_domain,
        email,
        industry_key,
        employee_count,
        country_code,
        job_title,
        lead_source,
        lifecycle_stage,
        case
            when is_customer then 'customer'
            when is_mql then 'marketingqualifiedlead'
            else coalesce(lifecycle_stage, 'lead')
        end as suggested_lifecycle_stage,
        is_customer,
        created_at,
        converted_at,
        cast(industry_points as {{ type_double() }}) as industry_points,
        cast(company_size_points as {{ type_double() }}) as company_size_points,
        cast(geography_points as {{ type_double() }}) as geography_points,
        cast(job_role_points as {{ type_double() }}) as job_role_points,
        cast(fit_score as decimal(18, 6)) as fit_score,
        cast(engagement_points as {{ type_double() }}) as engagement_points,
        engagement_level,
        cast(engagement_score as decimal(18, 6)) as engagement_score,
        cast(negative_score as decimal(18, 6)) as negative_score,
        rfm_segment,
        cast(rfm_score as decimal(18, 6)) as rfm_score,
        cast(score_total as decimal(18, 6)) as score_total,
        tier,
        tier_action,
        fit_grade,
        engagement_grade,
        grade_cell,
        grade_action,
        buying_stage,
        is_mql,
        -- In a patching refresh this ranks the changed leads among themselves; lead_scores_reranked then ranks
        -- the whole table.
        cast(row_number() over (order by {{ lead_rank_order() }}) as {{ dbt.type_bigint() }}) as lead_rank,
        last_activity_at,
        {{ as_of_date() }} as as_of_date,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id,
        '{{ build_parameter("scoring_version", "unversioned") }}' as scoring_version
    from graded

)

select * from final
