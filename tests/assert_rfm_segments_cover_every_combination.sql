-- A failure means some recency/frequency/monetary score combination matches no rule of seed rfm_segments:
-- a buying lead with those scores would get no segment. Each row is an uncovered R-F-M combination.
with

scores as (

    select 1 as score
    union all
    select 2 as score
    union all
    select 3 as score
    union all
    select 4 as score
    union all
    select 5 as score

),

combinations as (

    select
        r.score as r_score,
        f.score as f_score,
        m.score as m_score
    from scores as r
    cross join scores as f
    cross join scores as m

)

select combinations.*
from combinations
where not exists (
    select 1 as is_matched
    from {{ ref('rfm_segments') }} as segments
    where
        combinations.r_score between segments.min_r and segments.max_r
        and combinations.f_score between segments.min_f and segments.max_f
        and combinations.m_score between segments.min_m and segments.max_m
)
