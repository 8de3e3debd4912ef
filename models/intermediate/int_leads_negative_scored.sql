-- One row per scored lead and negative rule that fired, with the (negative) points it takes.
with

leads as (

    select * from {{ ref('int_leads_scoped') }}

),

events as (

    select * from {{ ref('int_events_scoped') }}

),

rules as (

    select * from {{ ref('negative_rules') }}

),

email_domains as (

    select * from {{ ref('negative_email_domains') }}

),

job_roles as (

    select * from {{ ref('fit_job_roles') }}

),

fit as (

    select * from {{ ref('int_leads_fit_scored') }}
    where component_key = 'job_role'

),

engaging_event_types as (

    select event_type from {{ ref('engagement_event_points') }}
    where points > 0

),

event_rules as (

    select
        events.lead_id,
        rules.rule_key,
        cast(count(*) as {{ dbt.type_string() }}) || ' x ' || max(rules.match_value) as matched_value
    from rules
    inner join events
        on
            rules.match_value = events.event_type
            and (rules.match_subtype is null or rules.match_subtype = events.event_subtype)
            and (rules.window_days is null or rules.window_days >= events.age_days)
    where rules.rule_type = 'event'
    group by events.lead_id, rules.rule_key
    having count(*) >= max(coalesce(rules.min_count, 1))

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

role_rules as (

    select
        fit.lead_id,
        rules.rule_key,
        fit.matched_value
    from fit
    inner join job_roles on fit.rule_key = job_roles.role_key
    inner join rules on job_roles.seniority = rules.match_value and rules.rule_type = 'job_role'

),

recent_activity as (

    select
        events.lead_id,
        min(events.age_days) as days_since_activity
    from events
    inner join engaging_event_types on events.event_type = engaging_event_types.event_type
    group by events.lead_id

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
        events.lead_id,
        rules.rule_key,
        sum(case when events.event_type = 'email_sent' then 1 else 0 end) as emails_sent,
        sum(case when events.event_type = 'email_open' then 1 else 0 end) as emails_opened
    from events
    inner join rules
        on rules.rule_type = 'open_rate' and events.age_days <= rules.window_days
    where events.event_type in ('email_sent', 'email_open')
    group by events.lead_id, rules.rule_key

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
    select * from role_rules
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
        rules.points
    from fired
    inner join rules on fired.rule_key = rules.rule_key

)

select * from scored
