-- Why each lead has its score: one row per lead and rule that gave or took points.
with

points as (

    select * from {{ ref('int_lead_points_weighted') }}

),

final as (

    select
        lead_id || ':' || dimension_key || ':' || rule_type || ':' || rule_key as breakdown_id,
        lead_id,
        component_key,
        dimension_key,
        rule_type,
        rule_key,
        matched_value,
        points,
        undecayed_points,
        decay_factor,
        cap_points,
        is_capped,
        is_counted_in_total,
        weight,
        score_points,
        {{ as_of_date() }} as as_of_date,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id,
        '{{ build_parameter("scoring_version", "unversioned") }}' as scoring_version
    from points

)

select * from final
