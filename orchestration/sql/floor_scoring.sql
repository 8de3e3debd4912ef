-- The speed floor: one hand-written DuckDB query computing the lead-score totals and ranks from the raw
-- layer and the point tables (hand-specialised to the default negative rules' windows and thresholds).
-- $as_of_end and $as_of_date are replaced by literals before it runs. Timestamps are parsed as the models parse
-- them (macro parse_iso_timestamp), so that the comparison is like for like.
with
p_weights as (select component_key, weight from point_tables.score_weights),
w as (select
    max(case when component_key = 'engagement' then weight end) as w_engagement,
    coalesce(max(case when component_key = 'engagement_points' then weight end), 0) as w_engagement_points,
    max(case when component_key = 'negative' then weight end) as w_negative,
    max(case when component_key = 'rfm' then weight end) as w_rfm
    from p_weights),
leads as (
    select trim(lead_id) as lead_id,
        lower(split_part(trim(email), '@', 2)) as email_domain,
        make_timestamp(epoch_us(cast(created_at as timestamptz))) as created_at
    from raw.leads
    where make_timestamp(epoch_us(cast(created_at as timestamptz))) < $as_of_end
),
-- Lead properties in long form (every column but the id, email and dates; plus email_domain), folded as the
-- models fold them (macro property_value_folded), matched once per distinct value against lead_property_rules.
raw_properties as (
    select trim(lead_id) as lead_id, coalesce(split_part(email, '@', 2), '') as email_domain,
        coalesce(columns(* exclude (lead_id, email, created_at, converted_at, _source_file, _source_line,
            _loaded_at)), '')
    from raw.leads
),
properties as (
    unpivot raw_properties on columns(* exclude (lead_id)) into name property_name value property_value
),
folded as (
    select p.lead_id, lower(p.property_name) as property_name,
        coalesce(lower(trim(regexp_replace(nfc_normalize(p.property_value), '[\s\pZ]+', ' ', 'g'))), '') as value_key
    from properties p join leads l on l.lead_id = p.lead_id
),
rules as (
    select rule_key, lower(trim(property)) as property_name, match_kind, match_values, min_value, max_value,
        coalesce(match_priority, 2147483647) as match_priority, dimension, points,
        nullif(lower(trim(regexp_replace(nfc_normalize(match_values), '[\s\pZ]+', ' ', 'g'))), '') as folded_values
    from point_tables.lead_property_rules
),
property_values as (
    select distinct property_name, value_key, nullif(value_key, '') as v, try_cast(nullif(value_key, '') as decimal(28, 8)) as n
    from folded where property_name in (select property_name from rules)
),
fired as (
    select pv.property_name, pv.value_key, r.dimension,
        arg_min(r.points, (r.match_priority, r.rule_key)) as points
    from property_values pv join rules r on r.property_name = pv.property_name
    where (r.match_kind = 'blank' and pv.v is null)
        or (r.match_kind = 'equals' and (pv.v = r.folded_values or pv.n = try_cast(r.folded_values as decimal(28, 8))))
        or (r.match_kind = 'in_list' and list_contains(string_split(replace(replace(r.folded_values, ' |', '|'), '| ', '|'), '|'), pv.v))
        or (r.match_kind = 'pattern' and regexp_matches(pv.v, r.match_values, 'i'))
        or (r.match_kind = 'range' and pv.n is not null and (r.min_value is null or pv.n >= r.min_value)
            and (r.max_value is null or pv.n < r.max_value))
    group by all
),
value_points as (
    select * from fired
    union all
    select pv.property_name, pv.value_key, r.dimension, r.points
    from property_values pv join rules r on r.property_name = pv.property_name and r.match_kind = 'otherwise'
    where not exists (select 1 from fired f where f.property_name = pv.property_name
        and f.value_key = pv.value_key and f.dimension = r.dimension)
),
dimension_points as (
    select f.lead_id, vp.dimension, sum(vp.points) as points
    from folded f join value_points vp on vp.property_name = f.property_name and vp.value_key = f.value_key
    group by all
),
fit as (
    select l.lead_id, l.email_domain, l.created_at,
        coalesce(sum(dp.points * pw.weight) filter (where dp.dimension <> 'negative'), 0) as fit_score,
        coalesce(sum(dp.points) filter (where dp.dimension = 'negative'), 0) as negative_property_points
    from leads l
    left join dimension_points dp on dp.lead_id = l.lead_id
    left join p_weights pw on pw.component_key = dp.dimension
    group by all
),
events as (
    select trim(e.lead_id) as lead_id, lower(trim(e.event_type)) as event_type,
        lower(json_extract_string(e.properties, '$.bounce_type')) as subtype,
        date_diff('second', make_timestamp(epoch_us(cast(e.occurred_at as timestamptz))), $as_of_end) / 86400.0 as age_days
    from raw.events e
    where make_timestamp(epoch_us(cast(e.occurred_at as timestamptz))) < $as_of_end
),
per_type as (
    select e.lead_id, e.event_type, any_value(ep.points) as points, any_value(ep.cap_points) as cap_points,
        any_value(ep.buying_stage) as buying_stage,
        sum(ep.points * power(0.5, e.age_days / ep.half_life_days)) as decayed,
        min(e.age_days) as min_age
    from events e join point_tables.engagement_event_points ep on ep.event_type = e.event_type
    where ep.points <> 0 or ep.buying_stage <> 'none'
    group by all
),
capped as (
    select *, case when points > 0 then least(decayed, cap_points) else greatest(decayed, cap_points) end as capped
    from per_type
),
engagement as (
    select c.lead_id, sum(c.capped) filter (where c.points <> 0) as engagement_points,
        sum(cast(cast(c.capped as decimal(18, 6)) * w.w_engagement_points as decimal(18, 6)))
            filter (where c.points <> 0) as event_score,
        min(c.min_age) filter (where c.buying_stage <> 'none') as days_since_activity
    from capped c cross join w group by c.lead_id
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
        + f.negative_property_points
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
        f.fit_score,
        coalesce(e.engagement_points, 0) as engagement_points,
        lv.points * w.w_engagement + coalesce(e.event_score, 0) as engagement_score,
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
