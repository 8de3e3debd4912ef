-- One row per scored lead with completed orders before the as-of date: recency, frequency, monetary,
-- their 1-5 scores from the bands and the RFM segment (the first matching segment by match_priority).
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

    select lead_id from {{ ref('int_leads_scoped') }}
    where {{ changed_leads_filter('lead_id') }}

),

orders as (

    select * from {{ ref('int_orders_validated') }}
    where
        reject_reason is null
        and order_status = 'completed'
        and ordered_at < {{ as_of_end_at() }}

),

bands as (

    select * from {{ ref('rfm_bands') }}

),

segments as (

    select * from {{ ref('rfm_segments') }}

),

per_lead as (

    select
        orders.lead_id,
        cast(max(orders.ordered_at) as date) as last_ordered_date,
        max({{ as_of_date() }}) as as_of_date,
        count(*) as order_count,
        cast(sum(orders.amount_eur) as decimal(38, 10)) as monetary_eur
    from orders
    inner join leads on orders.lead_id = leads.lead_id
    group by orders.lead_id

),

recency as (

    select
        *,
        {{ dbt.datediff('last_ordered_date', 'as_of_date', 'day') }} as recency_days  -- noqa: LT05
    from per_lead

),

scored as (

    select
        recency.*,
        recency_bands.rfm_score as recency_score,
        frequency.rfm_score as frequency_score,
        monetary.rfm_score as monetary_score
    from recency
    left join bands as recency_bands
        on
            recency_bands.rfm_dimension = 'recency'
            and {{ in_band('recency.recency_days', 'recency_bands.min_value', 'recency_bands.max_value') }}
    left join bands as frequency
        on
            frequency.rfm_dimension = 'frequency'
            and {{ in_band('recency.order_count', 'frequency.min_value', 'frequency.max_value') }}
    left join bands as monetary
        on
            monetary.rfm_dimension = 'monetary'
            and {{ in_band('recency.monetary_eur', 'monetary.min_value', 'monetary.max_value') }}

),

matched as (

    select
        scored.*,
        segments.segment_key as rfm_segment,
        segments.points,
        row_number() over (
            partition by scored.lead_id order by segments.match_priority, segments.segment_key
        ) as match_rank
    from scored
    left join segments
        on
            scored.recency_score between segments.min_r and segments.max_r
            and scored.frequency_score between segments.min_f and segments.max_f
            and scored.monetary_score between segments.min_m and segments.max_m

),

segmented as (

    select
        lead_id,
        recency_days,
        order_count,
        monetary_eur,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_segment,
        coalesce(points, cast(0 as decimal(10, 4))) as points,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id
    from matched
    where match_rank = 1

)

select * from segmented
