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
        date_diff('second', make_timestamp(epoch_us(cast(e.occurred_at as timestamptz))), $as_of_end) / 86400.0 as age_days,
        e.properties, e._source_file, e._source_line, e._loaded_at
    from raw.events e
    where make_timestamp(epoch_us(cast(e.occurred_at as timestamptz))) < $as_of_end
),
-- Event rules: each event counts for the first rule of its type whose property matches (match_priority, empty
-- last, then event_rule), else the type's rule without a property; only types with property rules are matched.
event_rules as (
    select event_rule, event_type, property_name, match_values, coalesce(match_priority, 2147483647) as match_priority,
        points, cap_points, half_life_days, buying_stage
    from point_tables.engagement_event_points
),
property_types as (select distinct event_type from event_rules where property_name is not null),
ruled_events as (
    select e.lead_id, e.age_days, r.event_rule
    from events e join event_rules r on r.event_type = e.event_type and r.property_name is null
    where e.event_type not in (select event_type from property_types)
    union all
    select any_value(e.lead_id), any_value(e.age_days),
        arg_min(r.event_rule, (r.property_name is null, r.match_priority, r.event_rule))
    from events e join event_rules r on r.event_type = e.event_type
    where e.event_type in (select event_type from property_types)
        and (r.property_name is null
            or regexp_matches(json_extract_string(e.properties, '$."' || r.property_name || '"'), r.match_values, 'i'))
    group by e._source_file, e._source_line, e._loaded_at
),
per_rule as (
    select e.lead_id, e.event_rule, any_value(r.points) as points, any_value(r.cap_points) as cap_points,
        sum(r.points * power(0.5, e.age_days / r.half_life_days)) as decayed,
        min(e.age_days) as min_age
    from ruled_events e join event_rules r on r.event_rule = e.event_rule
    where r.points <> 0
    group by all
),
capped as (
    select *, case when points > 0 then least(decayed, cap_points) else greatest(decayed, cap_points) end as capped
    from per_rule
),
engagement as (
    select c.lead_id, sum(c.capped) as engagement_points,
        sum(cast(cast(c.capped as decimal(18, 6)) * w.w_engagement_points as decimal(18, 6))) as event_score
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
-- Activity for the inactivity rule: an event a rule of a buying stage took, the last completed order, the
-- conversion.
activity as (
    select lead_id, min(age_days) as days_since_activity from (
        select e.lead_id, min(e.age_days) as age_days
        from ruled_events e join event_rules r on r.event_rule = e.event_rule
        where r.buying_stage <> 'none' group by e.lead_id
        union all
        select lead_id, date_diff('second', max(ordered_at), $as_of_end) / 86400.0 from orders group by lead_id
        union all
        select trim(lead_id), date_diff('second', make_timestamp(epoch_us(try_cast(converted_at as timestamptz))), $as_of_end) / 86400.0
        from raw.leads
        where make_timestamp(epoch_us(try_cast(converted_at as timestamptz))) < $as_of_end
    ) group by lead_id
),
-- RFM of the scored customers; a quantile band holds the customers with rank - 1 (customers strictly below)
-- in [min_value x customers, max_value x customers).
customers as (
    select lead_id, date_diff('day', cast(max(ordered_at) as date), $as_of_date) as recency_days,
        count(*) as n_orders, sum(amount_eur) as monetary
    from orders where lead_id in (select lead_id from leads) group by lead_id
),
ranked_customers as (
    select *, rank() over (order by recency_days) - 1 as r_below, rank() over (order by n_orders) - 1 as f_below,
        rank() over (order by monetary) - 1 as m_below, count(*) over () as n_customers
    from customers
),
rfm as (
    select lead_id, r.rfm_score as r_score, f.rfm_score as f_score, m.rfm_score as m_score
    from ranked_customers x
    join point_tables.rfm_bands r on r.rfm_dimension = 'recency' and case when r.bound_kind = 'quantile'
        then (r.min_value is null or x.r_below >= r.min_value * x.n_customers) and (r.max_value is null or x.r_below < r.max_value * x.n_customers)
        else (r.min_value is null or x.recency_days >= r.min_value) and (r.max_value is null or x.recency_days < r.max_value) end
    join point_tables.rfm_bands f on f.rfm_dimension = 'frequency' and case when f.bound_kind = 'quantile'
        then (f.min_value is null or x.f_below >= f.min_value * x.n_customers) and (f.max_value is null or x.f_below < f.max_value * x.n_customers)
        else (f.min_value is null or x.n_orders >= f.min_value) and (f.max_value is null or x.n_orders < f.max_value) end
    join point_tables.rfm_bands m on m.rfm_dimension = 'monetary' and case when m.bound_kind = 'quantile'
        then (m.min_value is null or x.m_below >= m.min_value * x.n_customers) and (m.max_value is null or x.m_below < m.max_value * x.n_customers)
        else (m.min_value is null or x.monetary >= m.min_value) and (m.max_value is null or x.monetary < m.max_value) end
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
                and coalesce(a.days_since_activity > 90, true)
               then (select points from neg where rule_key = 'inactive') else 0 end
        + case when ec.n_sent_90 >= 5 and ec.n_open_90 < 0.1 * ec.n_sent_90
               then (select points from neg where rule_key = 'low_open_rate') else 0 end
        as negative_points
    from fit f
    left join event_counts ec on ec.lead_id = f.lead_id
    left join activity a on a.lead_id = f.lead_id
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
