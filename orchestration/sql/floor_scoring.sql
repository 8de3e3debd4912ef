-- The speed floor: one hand-written DuckDB query computing the lead-score totals and ranks from the raw
-- layer and the point tables (hand-specialised to the default negative rules' windows and thresholds).
-- $as_of_end and $as_of_date are replaced by literals before it runs. Timestamps are parsed as the models parse
-- them (macro parse_iso_timestamp), so that the comparison is like for like.
with
p_weights as (select component_key, weight from point_tables.score_weights),
w as (select
    max(case when component_key = 'industry' then weight end) as w_industry,
    max(case when component_key = 'company_size' then weight end) as w_size,
    max(case when component_key = 'geography' then weight end) as w_geo,
    max(case when component_key = 'job_role' then weight end) as w_role,
    max(case when component_key = 'engagement' then weight end) as w_engagement,
    max(case when component_key = 'negative' then weight end) as w_negative,
    max(case when component_key = 'rfm' then weight end) as w_rfm
    from p_weights),
leads as (
    select trim(lead_id) as lead_id,
        lower(trim(email)) as email,
        lower(split_part(trim(email), '@', 2)) as email_domain,
        nullif(lower(trim(industry)), '') as industry_key,
        try_cast(trim(employee_count) as integer) as employee_count,
        nullif(upper(trim(country_code)), '') as country_code,
        ' ' || lower(trim(coalesce(job_title, ''))) || ' ' as title,
        make_timestamp(epoch_us(cast(created_at as timestamptz))) as created_at
    from raw.leads
    where make_timestamp(epoch_us(cast(created_at as timestamptz))) < $as_of_end
),
fit as (
    select l.lead_id, l.email_domain, l.created_at,
        coalesce(ip.points, io.points) as industry_points,
        coalesce(sb.points, 0) as size_points,
        zp.points as geo_points,
        coalesce(r.points, 0) as role_points,
        r.seniority
    from leads l
    left join point_tables.fit_industry_points ip on ip.industry_key = l.industry_key
    left join point_tables.fit_industry_points io on io.industry_key = 'other'
    left join point_tables.fit_company_size_bands sb
        on (sb.min_employees is null or l.employee_count >= sb.min_employees)
        and (sb.max_employees is null or l.employee_count < sb.max_employees)
    left join point_tables.fit_geo_zones gz on gz.country_code = l.country_code
    join point_tables.fit_zone_points zp on zp.zone_key = coalesce(gz.zone_key, 'outside')
    left join (
        select l2.lead_id, jr.points, jr.seniority,
            row_number() over (partition by l2.lead_id order by jr.match_priority, jr.role_key) as rn
        from leads l2 join point_tables.fit_job_roles jr on l2.title like jr.title_pattern
    ) r on r.lead_id = l.lead_id and r.rn = 1
),
events as (
    select trim(e.lead_id) as lead_id, lower(trim(e.event_type)) as event_type,
        lower(json_extract_string(e.properties, '$.bounce_type')) as subtype,
        date_diff('second', make_timestamp(epoch_us(cast(e.occurred_at as timestamptz))), $as_of_end) / 86400.0 as age_days
    from raw.events e
    where make_timestamp(epoch_us(cast(e.occurred_at as timestamptz))) < $as_of_end
),
per_type as (
    select e.lead_id, e.event_type, any_value(ep.cap_points) as cap_points,
        sum(ep.points * power(0.5, e.age_days / ep.half_life_days)) as decayed,
        min(e.age_days) as min_age
    from events e join point_tables.engagement_event_points ep on ep.event_type = e.event_type
    where ep.points > 0
    group by all
),
engagement as (
    select lead_id, sum(least(decayed, cap_points)) as engagement_points, min(min_age) as days_since_activity
    from per_type group by lead_id
),
event_counts as (
    select lead_id,
        count(*) filter (where event_type = 'unsubscribe') as n_unsubscribe,
        count(*) filter (where event_type = 'email_bounce' and subtype = 'hard') as n_hard_bounce,
        count(*) filter (where event_type = 'email_sent' and age_days <= 90) as n_sent_90,
        count(*) filter (where event_type = 'email_open' and age_days <= 90) as n_open_90
    from events group by lead_id
),
orders as (
    select trim(o.lead_id) as lead_id, make_timestamp(epoch_us(cast(o.ordered_at as timestamptz))) as ordered_at,
        cast(o.amount as decimal(18, 2)) * fx.rate_to_eur as amount_eur
    from raw.orders o join point_tables.fx_rates fx on fx.currency = upper(trim(o.currency))
    where lower(trim(o.status)) = 'completed'
        and make_timestamp(epoch_us(cast(o.ordered_at as timestamptz))) < $as_of_end
),
rfm as (
    select lead_id, r.rfm_score as r_score, f.rfm_score as f_score, m.rfm_score as m_score
    from (
        select lead_id, date_diff('day', cast(max(ordered_at) as date), $as_of_date) as recency_days,
            count(*) as n_orders, sum(amount_eur) as monetary
        from orders group by lead_id
    ) x
    join point_tables.rfm_bands r on r.rfm_dimension = 'recency'
        and (r.min_value is null or x.recency_days >= r.min_value) and (r.max_value is null or x.recency_days < r.max_value)
    join point_tables.rfm_bands f on f.rfm_dimension = 'frequency'
        and (f.min_value is null or x.n_orders >= f.min_value) and (f.max_value is null or x.n_orders < f.max_value)
    join point_tables.rfm_bands m on m.rfm_dimension = 'monetary'
        and (m.min_value is null or x.monetary >= m.min_value) and (m.max_value is null or x.monetary < m.max_value)
),
rfm_points as (
    select rfm.lead_id, arg_min(s.points, s.match_priority) as points
    from rfm join point_tables.rfm_segments s
        on rfm.r_score between s.min_r and s.max_r and rfm.f_score between s.min_f and s.max_f
        and rfm.m_score between s.min_m and s.max_m
    group by rfm.lead_id
),
neg as (select rule_key, points, window_days, threshold, min_count from point_tables.negative_rules),
negative as (
    select f.lead_id,
        coalesce(case when ec.n_unsubscribe >= 1 then (select points from neg where rule_key = 'unsubscribed') end, 0)
        + coalesce(case when ec.n_hard_bounce >= 1 then (select points from neg where rule_key = 'hard_bounce') end, 0)
        + coalesce((select n.points from point_tables.negative_email_domains d join neg n on n.rule_key = d.rule_key
                    where d.email_domain = f.email_domain), 0)
        + case when f.seniority = 'student' then (select points from neg where rule_key = 'student_title') else 0 end
        + case when date_diff('second', f.created_at, $as_of_end) / 86400.0 > 90
                and coalesce(e.days_since_activity > 90, true)
               then (select points from neg where rule_key = 'inactive') else 0 end
        + case when ec.n_sent_90 >= 5 and ec.n_open_90 < 0.1 * ec.n_sent_90
               then (select points from neg where rule_key = 'low_open_rate') else 0 end
        as negative_points
    from fit f
    left join event_counts ec on ec.lead_id = f.lead_id
    left join engagement e on e.lead_id = f.lead_id
),
scored as (
    select f.lead_id,
        f.industry_points * w.w_industry + f.size_points * w.w_size + f.geo_points * w.w_geo
            + f.role_points * w.w_role as fit_score,
        coalesce(e.engagement_points, 0) as engagement_points,
        lv.points * w.w_engagement as engagement_score,
        n.negative_points * w.w_negative as negative_score,
        coalesce(rp.points, 0) * w.w_rfm as rfm_score
    from fit f cross join w
    left join engagement e on e.lead_id = f.lead_id
    join point_tables.engagement_levels lv
        on (lv.min_engagement_points is null or coalesce(e.engagement_points, 0) >= lv.min_engagement_points)
        and (lv.max_engagement_points is null or coalesce(e.engagement_points, 0) < lv.max_engagement_points)
    join negative n on n.lead_id = f.lead_id
    left join rfm_points rp on rp.lead_id = f.lead_id
)
select lead_id, fit_score + engagement_score + negative_score + rfm_score as score_total,
    row_number() over (order by fit_score + engagement_score + negative_score + rfm_score desc,
                       engagement_points desc, fit_score desc, lead_id) as lead_rank
from scored
