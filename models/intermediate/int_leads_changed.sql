-- The leads a patching refresh rescores: every lead with a lead, event or order row loaded after the last
-- published build read the raw tables (build parameter patch_since, set by `leadscore build` only when that
-- build had the same as-of date, point tables and code). At an unchanged as-of date, no other lead's score
-- can change: lead rows are never replaced by an append (a second row with the same id is rejected), and an
-- event or order that becomes valid when its lead arrives belongs to that new lead. One exception: when a
-- dimension of rfm_bands is banded by quantiles, a new order or lead moves the quantiles of every customer,
-- so every lead with an order is rescored too. Empty otherwise (the lead-level tables are then
-- rebuilt in full and do not read it).
{%- set since = build_parameter('patch_since') %}
{%- set arrived = 'false' if since == '' else "loaded_at > cast('" ~ since ~ "' as timestamp)" %}

with

leads as (

    select
        lead_id,
        loaded_at
    from {{ ref('int_leads_validated') }}

),

events as (

    select
        lead_id,
        loaded_at
    from {{ ref('int_events_validated') }}

),

orders as (

    select
        lead_id,
        loaded_at
    from {{ ref('int_orders_validated') }}

),

loaded as (

    {%- for relation in ['leads', 'events', 'orders'] %}
    {%- if not loop.first %}
    union
    {%- endif %}
    select lead_id from {{ relation }}
    where
        lead_id is not null
        and {{ arrived }}
    {%- endfor %}

),

-- With quantile RFM bands, every customer when a lead or an order arrived (events move no quantile).
arrivals as (

    select lead_id from leads
    where {{ arrived }}
    union all
    select lead_id from orders
    where {{ arrived }}

),

customers as (

    select lead_id from orders
    where
        lead_id is not null
        and exists (
            select 1 as is_quantile from {{ ref('rfm_bands') }} as bands
            where bands.bound_kind = 'quantile'
        )
        and exists (select 1 as has_arrived from arrivals)

),

changed as (

    select lead_id from loaded
    union
    select lead_id from customers

)

select * from changed
