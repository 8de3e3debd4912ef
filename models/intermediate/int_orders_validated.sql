-- Every raw order row with the first contract rule it breaks (reject_reason), or null when it is accepted.
with

orders as (

    select * from {{ ref('stg_raw__orders') }}

),

accepted_leads as (

    select lead_id from {{ ref('int_leads_validated') }}
    where reject_reason is null

),

fx_rates as (

    select * from {{ ref('fx_rates') }}

),

numbered as (

    select
        orders.*,
        fx_rates.rate_to_eur,
        accepted_leads.lead_id is not null as has_known_lead,
        row_number() over (
            partition by orders.order_id order by orders.loaded_at, orders.source_file, orders.source_line
        ) as order_id_occurrence
    from orders
    left join accepted_leads on orders.lead_id = accepted_leads.lead_id
    left join fx_rates on orders.currency = fx_rates.currency

),

validated as (

    select
        *,
        cast(amount * rate_to_eur as decimal(18, 10)) as amount_eur,
        case
            when order_id is null then 'missing_order_id'
            when order_id_occurrence > 1 then 'duplicate_order_id'
            when lead_id is null then 'missing_lead_id'
            when not has_known_lead then 'unknown_or_rejected_lead'
            when ordered_at is null and has_unparseable_ordered_at then 'unparseable_ordered_at'
            when ordered_at is null then 'missing_ordered_at'
            when ordered_at > loaded_at then 'ordered_at_after_load'
            when amount is null and has_unparseable_amount then 'unparseable_amount'
            when amount is null then 'missing_amount'
            when has_sub_cent_amount then 'sub_cent_amount'
            when amount < 0 then 'negative_amount'
            when currency is null then 'missing_currency'
            when rate_to_eur is null then 'unknown_currency'
            when order_status is null then 'missing_status'
            when order_status not in ('completed', 'refunded') then 'unknown_status'
        end as reject_reason
    from numbered

)

select * from validated
