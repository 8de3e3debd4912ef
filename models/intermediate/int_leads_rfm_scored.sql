-- One row per scored lead with completed orders before the as-of date: recency, frequency, monetary,
-- their 1-5 scores from the bands and the RFM segment (the first matching segment by match_priority).
-- A dimension's bands are fixed values (bound_kind value) or quantiles (bound_kind quantile): a customer's
-- quantile is the share of the scored customers with a strictly lower value of the dimension (equal values
-- share a band), compared exactly as (customers strictly below) against bound x (customers).
-- Patched at an unchanged as-of date: only the leads of int_leads_changed are rescored (their rows deleted,
-- then appended; with quantile bands every customer is among them when an order or a lead arrived, see
-- int_leads_changed); any other build rebuilds it in full (see incremental_state_is_current).
{{ lead_patched_config() }}
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

-- Every scored customer, also in a patching refresh: a quantile ranks a customer among all of them.
per_lead as (

    select
        orders.lead_id,
        cast(max(orders.ordered_at) as date) as last_ordered_date,
        max({{ as_of_date() }}) as as_of_date,
        count(*) as order_count,
        cast(sum(orders.amount_eur) as decimal(38, 10)) as monetary_eur
    from orders
    inner join {{ ref('int_leads_scoped') }} as customers on orders.lead_id = customers.lead_id
    group by orders.lead_id

),

recency as (

    select
        *,
        {{ dbt.datediff('last_ordered_date', 'as_of_date', 'day') }} as recency_days  -- noqa: LT05
    from per_lead

),

{%- set dimensions = {'recency': 'recency_days', 'frequency': 'order_count', 'monetary': 'monetary_eur'} %}

-- How many customers have a strictly lower value of each dimension (rank - 1: ties share it), and how many
-- customers there are.
ranked as (

    select
        recency.*,
        {%- for dimension, value in dimensions.items() %}
        rank() over (order by recency.{{ value }}) - 1 as {{ dimension }}_lower_count,
        {%- endfor %}
        count(*) over () as customer_count
    from recency

),

scored as (

    select
        ranked.lead_id,
        ranked.recency_days,
        ranked.order_count,
        ranked.monetary_eur,
        recency_bands.rfm_score as recency_score,
        frequency_bands.rfm_score as frequency_score,
        monetary_bands.rfm_score as monetary_score
    from ranked
    inner join leads on ranked.lead_id = leads.lead_id
    {%- for dimension, value in dimensions.items() %}
    left join bands as {{ dimension }}_bands
        on
            {{ dimension }}_bands.rfm_dimension = '{{ dimension }}'
            and case
                when {{ dimension }}_bands.bound_kind = 'quantile'
                    then {{ in_band(
                        'ranked.' ~ dimension ~ '_lower_count',
                        dimension ~ '_bands.min_value * ranked.customer_count',
                        dimension ~ '_bands.max_value * ranked.customer_count'
                    ) }}
                else {{ in_band('ranked.' ~ value, dimension ~ '_bands.min_value', dimension ~ '_bands.max_value') }}
            end
    {%- endfor %}

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
