-- One row per scored lead and negative rule that fired, with the (negative) points it takes. (Negative rules on
-- a lead property, such as a student's job title, are property rules in dimension negative.)
-- Patched at an unchanged as-of date: only the leads of int_leads_changed are rescored (their rows deleted,
-- then appended); any other build rebuilds it in full (see incremental_state_is_current).
{{ lead_patched_config() }}
-- depends_on: {{ ref('int_leads_changed') }}
with

leads as (

    select * from {{ ref('int_leads_scoped') }}
    where {{ changed_leads_filter('lead_id') }}

),

-- Daily counts of the event types the rules count, up to the end of the as-of date, with each day's age in
-- whole days (a window of N days keeps the days whose age is below N: events at most N days old).
as_of as (

    select {{ as_of_date() }} as as_of_date

),

event_days as (

    select
        counted.lead_id,
        counted.event_type,
        counted.event_subtype,
        counted.event_count,
        {{ dbt.datediff('counted.event_date', 'as_of.as_of_date', 'day') }} as age_in_whole_days -- noqa: LT05
    from {{ ref('int_lead_event_days_counted') }} as counted
    cross join as_of
    where counted.event_date <= as_of.as_of_date and {{ changed_leads_filter('counted.lead_id') }}

),

decayed as (

    select * from {{ ref('int_lead_event_types_decayed') }}
    where {{ changed_leads_filter('lead_id') }}

),

rules as (

    select * from {{ ref('negative_rules') }}

),

email_domains as (

    select * from {{ ref('negative_email_domains') }}

),

-- Activity: an event taken by a rule whose buying stage is not `none` (what the lead did, whatever its points: a
-- rule change of points never changes who is inactive); sends, bounces, unsubscribes and rules of stage none
-- (a careers page view, say) are not.
engaging_rules as (

    select event_rule from {{ ref('engagement_event_points') }}
    where buying_stage <> 'none'

),

-- The last completed order on or before the as-of date: buying is activity too.
last_orders as (

    select
        lead_id,
        max(ordered_at) as last_ordered_at
    from {{ ref('int_orders_validated') }}
    where
        reject_reason is null
        and order_status = 'completed'
        and ordered_at < {{ as_of_end_at() }}
        and {{ changed_leads_filter('lead_id') }}
    group by lead_id

),

event_rules as (

    select
        leads.lead_id,
        rules.rule_key,
        cast(sum(event_days.event_count) as {{ dbt.type_string() }}) || ' x ' || max(rules.match_value)
            as matched_value
    from rules
    inner join event_days
        on
            rules.match_value = event_days.event_type
            and (rules.match_subtype is null or rules.match_subtype = event_days.event_subtype)
            and (rules.window_days is null or rules.window_days > event_days.age_in_whole_days)
    inner join leads on event_days.lead_id = leads.lead_id
    where rules.rule_type = 'event'
    group by leads.lead_id, rules.rule_key
    having sum(event_days.event_count) >= max(coalesce(rules.min_count, 1))

),

domain_rules as (

    select
        leads.lead_id,
        rules.rule_key,
        leads.email_domain as matched_value
    from leads
    inner join email_domains on leads.email_domain = email_domains.email_domain
    inner join rules on email_domains.rule_key = rules.rule_key and rules.rule_type = 'email_domain'

),

-- What counts as activity for the inactivity rules: an event a rule worth points took, a completed order, and
-- the conversion (int_leads_scoped keeps converted_at only when it is on or before the as-of date).
activities as (

    select
        decayed.lead_id,
        decayed.last_occurred_at as active_at
    from decayed
    inner join engaging_rules on decayed.event_rule = engaging_rules.event_rule

    union all

    select
        lead_id,
        last_ordered_at as active_at
    from last_orders

    union all

    select
        lead_id,
        converted_at as active_at
    from leads
    where converted_at is not null

),

recent_activity as (

    select
        lead_id,
        {{ age_in_days('max(active_at)', as_of_end_at()) }} as days_since_activity
    from activities
    group by lead_id

),

inactivity_rules as (

    select
        leads.lead_id,
        rules.rule_key,
        coalesce(
            'last activity '
            || {{ double_to_text('floor(recent_activity.days_since_activity)', 0) }}
            || ' days ago',
            'no activity'
        ) as matched_value
    from leads
    cross join rules
    left join recent_activity on leads.lead_id = recent_activity.lead_id
    where
        rules.rule_type = 'inactivity'
        and {{ age_in_days('leads.created_at', as_of_end_at()) }} > rules.window_days
        and coalesce(recent_activity.days_since_activity > rules.window_days, true)

),

email_counts as (

    select
        leads.lead_id,
        rules.rule_key,
        sum(case when event_days.event_type = 'email_sent' then event_days.event_count else 0 end) as emails_sent,
        sum(case when event_days.event_type = 'email_open' then event_days.event_count else 0 end)
            as emails_opened
    from event_days
    inner join rules
        on rules.rule_type = 'open_rate' and event_days.age_in_whole_days < rules.window_days
    inner join leads on event_days.lead_id = leads.lead_id
    where event_days.event_type in ('email_sent', 'email_open')
    group by leads.lead_id, rules.rule_key

),

open_rate_rules as (

    select
        email_counts.lead_id,
        rules.rule_key,
        cast(email_counts.emails_opened as {{ dbt.type_string() }}) || ' opened of '
        || cast(email_counts.emails_sent as {{ dbt.type_string() }}) || ' sent' as matched_value
    from email_counts
    inner join rules on email_counts.rule_key = rules.rule_key
    where
        email_counts.emails_sent >= rules.min_count
        and email_counts.emails_opened < rules.threshold * email_counts.emails_sent

),

fired as (

    select * from event_rules
    union all
    select * from domain_rules
    union all
    select * from inactivity_rules
    union all
    select * from open_rate_rules

),

scored as (

    select
        fired.lead_id,
        'negative' as component_key,
        fired.rule_key,
        fired.matched_value,
        rules.points,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id
    from fired
    inner join rules on fired.rule_key = rules.rule_key

)

select * from scored
