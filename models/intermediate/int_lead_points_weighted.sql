-- One row per scored lead and rule that gave or took points, weighted into score points.
-- Engagement event-rule rows explain the engagement points behind the level; they carry score points only
-- when the weight of engagement_points is not 0 (by default the engagement level row alone counts), so the
-- score points of a lead add up to its total. A row whose weight is 0 is not counted in the total.
-- A view: a union its two readers (lead_scores, lead_score_breakdown) scan once each; materialising its nine
-- million rows of text cost about 10 s a build at 1 M leads.
{{ config(materialized='view') }}

with

properties as (

    select * from {{ ref('int_leads_properties_scored') }}

),

engagement_events as (

    select * from {{ ref('int_leads_engagement_scored') }}

),

engagement_levels as (

    select * from {{ ref('int_leads_engagement_levelled') }}

),

negative as (

    select * from {{ ref('int_leads_negative_scored') }}

),

rfm as (

    select * from {{ ref('int_leads_rfm_scored') }}

),

weights as (

    select * from {{ ref('score_weights') }}

),

rule_rows as (

    select
        lead_id,
        dimension_key as weight_key,
        case when dimension_key = 'negative' then 'negative' else 'fit' end as component_key,
        case when dimension_key = 'negative' then 'negative_rule' else dimension_key end as rule_type,
        rule_key,
        matched_value,
        cast(points as {{ type_double() }}) as points,
        cast(null as {{ type_double() }}) as undecayed_points,
        cast(null as {{ type_double() }}) as decay_factor,
        cast(null as {{ type_double() }}) as cap_points,
        false as is_capped,
        true as is_counted_in_total,
        points as exact_points,
        build_id
    from properties

    union all

    select
        lead_id,
        'negative' as weight_key,
        'negative' as component_key,
        'negative_rule' as rule_type,
        rule_key,
        matched_value,
        cast(points as {{ type_double() }}) as points,
        cast(null as {{ type_double() }}) as undecayed_points,
        cast(null as {{ type_double() }}) as decay_factor,
        cast(null as {{ type_double() }}) as cap_points,
        false as is_capped,
        true as is_counted_in_total,
        points as exact_points,
        build_id
    from negative

    union all

    select
        lead_id,
        'engagement' as weight_key,
        'engagement' as component_key,
        'engagement_level' as rule_type,
        engagement_level as rule_key,
        {{ double_to_text('engagement_points', 2) }} || ' engagement points' as matched_value,
        cast(engagement_level_points as {{ type_double() }}) as points,
        cast(null as {{ type_double() }}) as undecayed_points,
        cast(null as {{ type_double() }}) as decay_factor,
        cast(null as {{ type_double() }}) as cap_points,
        false as is_capped,
        true as is_counted_in_total,
        engagement_level_points as exact_points,
        build_id
    from engagement_levels

    union all

    select
        lead_id,
        'engagement_points' as weight_key,
        'engagement' as component_key,
        'engagement_event' as rule_type,
        event_rule as rule_key,
        cast(event_count as {{ dbt.type_string() }}) || ' events' as matched_value,
        engagement_points as points,
        undecayed_points,
        decay_factor,
        cast(cap_points as {{ type_double() }}) as cap_points,
        is_capped,
        true as is_counted_in_total,
        cast(engagement_points as decimal(18, 6)) as exact_points,
        build_id
    from engagement_events

    union all

    select
        lead_id,
        'rfm' as weight_key,
        'rfm' as component_key,
        'rfm_segment' as rule_type,
        rfm_segment as rule_key,
        'R' || cast(recency_score as {{ dbt.type_string() }})
        || ' F' || cast(frequency_score as {{ dbt.type_string() }})
        || ' M' || cast(monetary_score as {{ dbt.type_string() }}) as matched_value,
        cast(points as {{ type_double() }}) as points,
        cast(null as {{ type_double() }}) as undecayed_points,
        cast(null as {{ type_double() }}) as decay_factor,
        cast(null as {{ type_double() }}) as cap_points,
        false as is_capped,
        true as is_counted_in_total,
        points as exact_points,
        build_id
    from rfm

),

weighted as (

    select
        rule_rows.lead_id,
        rule_rows.component_key,
        rule_rows.weight_key as dimension_key,
        rule_rows.rule_type,
        rule_rows.rule_key,
        rule_rows.matched_value,
        rule_rows.points,
        rule_rows.undecayed_points,
        rule_rows.decay_factor,
        rule_rows.cap_points,
        rule_rows.is_capped,
        weights.weight,
        rule_rows.build_id,
        cast(
            case
                when rule_rows.is_counted_in_total and weights.weight <> 0
                    then rule_rows.exact_points * weights.weight
                else 0
            end
            as decimal(18, 6)
        ) as score_points,
        rule_rows.is_counted_in_total and weights.weight <> 0 as is_counted_in_total
    from rule_rows
    left join weights on rule_rows.weight_key = weights.component_key

)

select * from weighted
