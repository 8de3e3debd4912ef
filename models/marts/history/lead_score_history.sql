-- A daily history of every lead's scores: one row per lead, score date (the as-of date of a build) and
-- scoring version (hash of the point tables). Each build adds the scores of its as-of date; rebuilding the
-- same date with the same point tables replaces that day as a whole (every lead of it, including a lead no
-- longer scored), and scores from other point tables stay beside them. DuckDB and PostgreSQL: the pre-hook
-- history_day_deleted deletes the day, then the build appends it; Spark (Parquet tables): each
-- (score_date, scoring_version) is a partition that insert_overwrite replaces.
{{
    config(
        materialized='incremental',
        incremental_strategy=('insert_overwrite' if target.type == 'spark' else 'append'),
        partition_by=(['score_date', 'scoring_version'] if target.type == 'spark' else none),
        pre_hook="{{ history_day_deleted() }}",
        on_schema_change='append_new_columns',
        full_refresh=false
    )
}}

with

scores as (

    select * from {{ ref('lead_scores') }}

),

tiers as (

    select * from {{ ref('score_tiers') }}

),

negative_rules as (

    select
        lead_id,
        {{ sorted_listagg('rule_key', "','") }} as negative_rules
    from {{ ref('lead_score_breakdown') }}
    where rule_type = 'negative_rule'
    group by lead_id

),

history as (

    select
        scores.lead_id || ':' || cast(scores.as_of_date as {{ dbt.type_string() }})
        || ':' || scores.scoring_version as lead_score_history_id,
        scores.lead_id,
        scores.as_of_date as score_date,
        scores.scoring_version,
        scores.build_id,
        scores.is_customer,
        scores.converted_at,
        scores.industry_points,
        scores.company_size_points,
        scores.geography_points,
        scores.job_role_points,
        scores.fit_score,
        scores.engagement_points,
        scores.engagement_level,
        scores.engagement_score,
        scores.negative_score,
        negative_rules.negative_rules,
        scores.rfm_segment,
        scores.rfm_score,
        scores.score_total,
        scores.tier,
        tiers.tier_order,
        scores.tier_action,
        scores.fit_grade,
        scores.engagement_grade,
        scores.grade_cell,
        scores.buying_stage,
        scores.is_mql,
        scores.lead_rank,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as recorded_at
    from scores
    left join tiers on scores.tier = tiers.tier_key
    left join negative_rules on scores.lead_id = negative_rules.lead_id

)

select * from history
