-- One row per scored lead and event rule worth points (or taking them): decayed points, capped at the rule's
-- cap (a negative rule's cap is its floor).
-- Patched at an unchanged as-of date: only the leads of int_leads_changed are rescored (their rows deleted,
-- then appended); any other build rebuilds it in full (see incremental_state_is_current).
{{ lead_patched_config() }}
-- depends_on: {{ ref('int_leads_changed') }}
with

leads as (

    select lead_id from {{ ref('int_leads_scoped') }}
    where {{ changed_leads_filter('lead_id') }}

),

decayed as (

    select * from {{ ref('int_lead_event_types_decayed') }}
    where {{ changed_leads_filter('lead_id') }}

),

rules as (

    select * from {{ ref('engagement_event_points') }}
    where points <> 0

),

capped as (

    select
        decayed.lead_id,
        decayed.event_rule,
        decayed.event_type,
        rules.buying_stage,
        decayed.event_count,
        decayed.last_occurred_at,
        decayed.undecayed_points,
        decayed.decayed_points,
        rules.cap_points,
        decayed.decayed_points / decayed.undecayed_points as decay_factor,
        case
            when rules.points > 0 then decayed.decayed_points > rules.cap_points
            else decayed.decayed_points < rules.cap_points
        end as is_capped,
        case
            when rules.points > 0 and decayed.decayed_points > rules.cap_points
                then rules.cap_points
            when rules.points < 0 and decayed.decayed_points < rules.cap_points
                then rules.cap_points
            else decayed.decayed_points
        end as engagement_points,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id
    from decayed
    inner join leads on decayed.lead_id = leads.lead_id
    inner join rules on decayed.event_rule = rules.event_rule

)

select * from capped
