-- Why each lead has its score: one row per lead and rule that gave or took points.
-- Patched at an unchanged as-of date: only the leads of int_leads_changed are rescored (their rows deleted,
-- then appended; the other leads' rows, and their build_id, stay as an earlier build of the same as-of date
-- and point tables computed them); any other build rebuilds it in full (see incremental_state_is_current).
{{ lead_patched_config() }}
-- depends_on: {{ ref('int_leads_changed') }}
with

points as (

    select * from {{ ref('int_lead_points_weighted') }}
    where {{ changed_leads_filter('lead_id') }}

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
