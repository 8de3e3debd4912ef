-- One row per lead, score date and scoring version of the score history that a backtest can measure: the
-- lead was not yet a customer on the score date, and the conversion window after that date (var
-- backtest_window_days) ended by the as-of date. converted_in_window: it became a customer in the window.
{%- set window_days = var('backtest_window_days') | int %}
{%- if window_days < 1 %}
    {{ exceptions.raise_compiler_error("var 'backtest_window_days' must be a whole number of days >= 1") }}
{%- endif %}

with

history as (

    select * from {{ ref('lead_score_history') }}

),

leads as (

    select
        lead_id,
        converted_at
    from {{ ref('int_leads_validated') }}
    where reject_reason is null

),

windowed as (

    select
        history.*,
        leads.converted_at as lead_converted_at,
        cast({{ dbt.dateadd('day', 1, 'history.score_date') }} as {{ dbt.type_timestamp() }}) as window_start_at,
        cast({{ dbt.dateadd('day', 1 + window_days, 'history.score_date') }} as {{ dbt.type_timestamp() }})
            as window_end_at
    from history
    inner join leads on history.lead_id = leads.lead_id

),

eligible as (

    select * from windowed
    where
        window_end_at <= {{ as_of_end_at() }}
        and (lead_converted_at is null or lead_converted_at >= window_start_at)

),

final as (

    select
        lead_score_history_id as backtest_observation_id,
        lead_id,
        score_date,
        scoring_version,
        window_start_at,
        window_end_at,
        score_total,
        fit_score,
        engagement_score,
        negative_score,
        rfm_score,
        industry_points,
        company_size_points,
        geography_points,
        job_role_points,
        engagement_points,
        engagement_level,
        buying_stage,
        tier,
        tier_order,
        fit_grade,
        engagement_grade,
        grade_cell,
        is_mql,
        coalesce(lead_converted_at < window_end_at, false) as converted_in_window,
        case when lead_converted_at < window_end_at then lead_converted_at end as converted_at,
        ntile(10) over (
            partition by scoring_version, score_date order by score_total desc, lead_id asc
        ) as score_decile
    from eligible

)

select * from final
